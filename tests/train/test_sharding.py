"""Sharded training equals single-device training (8 fake CPU devices, meshes 8x1 and 4x2,
the latter FSDP with the optimiser state split over 'data', ZeRO-1), and a state saved on
one mesh restores onto another."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from star_jax.train import sharding

HERE = pathlib.Path(__file__).parent


def test_meshes_match_one_device_within_1e5_relative():
  env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
  proc = subprocess.run([sys.executable, str(HERE / "sharding_equivalence.py")], env=env,
                        capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  for name in ("8x1", "4x2"):
    np.testing.assert_allclose(result[name]["losses"], result["reference_losses"], rtol=1e-5)
    assert result[name]["max_param_rel_diff"] <= 1e-5, (name, result[name])
  assert result["8x1"]["sharded_leaves"] == {"model": 0, "data": 0}
  assert result["4x2"]["sharded_leaves"]["model"] > 0  # FSDP rule really sharded kernels
  assert result["4x2"]["sharded_leaves"]["data"] > 0  # and ZeRO-1 the optimiser state
  assert result["restore_8x1_onto_4x2"] == {"values_equal": True, "shardings_are_target": True}


def test_mesh_shape_errors_name_the_problem():
  with pytest.raises(ValueError, match="at most one -1"):
    sharding.make_mesh((-1, -1))
  with pytest.raises(ValueError, match="needs 6 devices"):
    sharding.make_mesh((3, 2))
