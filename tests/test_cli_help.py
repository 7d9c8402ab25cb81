"""Every command-line entry point answers ``--help`` with its usage and exit status 0
(absl's default for ``star_jax.main`` is 1); the config commands list ``--config``."""

import subprocess
import sys

import pytest

from tests.train.conftest import REPO

# The commands with ml_collections' --config flag (star_jax.cli.common.define_config_flag).
CONFIG_CLIS = ("star_jax.main", "star_jax.plan")
CLIS = ("star_jax.main", "star_jax.convert", "star_jax.flow", "star_jax.infer", "star_jax.export",
        "star_jax.showcase", "star_jax.evaluate", "star_jax.plan")


@pytest.mark.parametrize("module", CLIS)
def test_help_exits_zero(module):
  completed = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO,
                             capture_output=True, text=True, timeout=300, check=False)
  assert completed.returncode == 0, completed.stderr[-2000:]
  assert "usage" in completed.stdout.lower() or "flags" in completed.stdout.lower()
  if module in CONFIG_CLIS:  # listed, without absl's "(default: 'None')" for a required flag
    assert "--config: Experiment config file" in completed.stdout
    assert "(default: 'None')" not in completed.stdout

