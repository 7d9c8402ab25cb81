"""A small demo dataset with cached (OpenCV DIS) flows, shared by the training tests, and a
helper that runs ``python -m star_jax.main`` as a user would."""

import os
import pathlib
import subprocess
import sys

import pytest

from star_jax.data import demo, flow_cache
from star_jax.flow import FlowSettings

REPO = pathlib.Path(__file__).resolve().parents[2]

TINY_MODEL_FLAGS = (
    "--config.model.variant=V3", "--config.model.base_filter=8", "--config.model.feat=4",
    "--config.model.n_resblock=1", "--config.batch_size=4", "--config.eval_batch_size=4",
    "--config.data.flow_backend=opencv_dis", "--config.data.generate_demo=False",
    "--config.log_every_steps=1", "--config.eval_every_steps=1000")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> pathlib.Path:
  root = demo.ensure_demo_dataset(tmp_path_factory.mktemp("demo") / "data",
                                  num_train_triplets=16, num_test_triplets=8,
                                  num_train_septuplets=1, num_test_septuplets=1,
                                  show_progress=False)
  for split in ("train", "test"):
    flow_cache.ensure_flow_cache(root, split, settings=FlowSettings("opencv_dis"),
                                   progress=False)
  return root


# One persistent XLA compilation cache per test run, shared by the xdist workers, for the
# training commands these tests start: most train the same tiny model, whose programs would
# otherwise compile again in every command (the SIGKILL test alone runs the same train step in
# three). It lives in the run's base temporary folder (pytest removes old runs' folders); the
# size limit turns on jax's file lock around each entry's write and read, so a process never
# reads an entry another is still writing (one killed while writing leaves it partial: jax
# then warns on stderr and compiles; the tests' kills come after their runs' compiles).
_COMPILATION_CACHE = {}


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory) -> pathlib.Path:
  base = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    base = base.parent  # the workers' popen-gw<N> folders share the run's folder
  path = base / "jax_compilation_cache"
  path.mkdir(exist_ok=True)
  _COMPILATION_CACHE["dir"] = path
  return path


def command_env(**overrides) -> dict:
  """``os.environ`` with ``overrides`` for a command a test starts, which reads and fills this
  run's compilation cache (from tests under tests/train, whose session fixture sets it up)."""
  env = dict(os.environ)
  if "dir" in _COMPILATION_CACHE:
    env.update(JAX_COMPILATION_CACHE_DIR=str(_COMPILATION_CACHE["dir"]),
               JAX_COMPILATION_CACHE_MAX_SIZE=str(16 * 2**30))
  env.update(overrides)
  return env


def main_command(workdir, data_dir, *overrides):
  return [sys.executable, "-m", "star_jax.main", "--config=configs/demo.py",
          f"--workdir={workdir}", f"--config.data.dir={data_dir}", *TINY_MODEL_FLAGS, *overrides]


def run_main(workdir, data_dir, *overrides, env=None, timeout=900):
  return subprocess.run(main_command(workdir, data_dir, *overrides), cwd=REPO, capture_output=True,
                        text=True, timeout=timeout, env=command_env(**(env or {})))
