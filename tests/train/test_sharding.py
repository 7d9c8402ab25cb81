"""Sharded training equals single-device training (8 fake CPU devices, meshes 8x1 and 4x2,
the latter FSDP with the optimiser state split over 'data', ZeRO-1), and a state saved on
one mesh restores onto another."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AbstractMesh, NamedSharding, PartitionSpec as P

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


def _zero1_specs(mesh_shape, opt_leaves, spec=P()):
  """zero1_shardings on an abstract ('data', 'model', 'space') mesh for a state whose
  parameter and optimiser-state leaves (shapes) all start at ``spec``: the specs out."""
  mesh = AbstractMesh(mesh_shape, ("data", "model", "space"))
  tree = {"params": {"k": jax.ShapeDtypeStruct((3, 3, 16, 8), jnp.float32)},
          "opt_state": {name: jax.ShapeDtypeStruct(shape, jnp.float32)
                        for name, shape in opt_leaves.items()}}
  shardings = jax.tree_util.tree_map(
      lambda leaf: NamedSharding(mesh, spec if leaf.ndim else P()), tree)
  out = sharding.zero1_shardings(tree, shardings, mesh)
  return {name: o.spec for name, o in out["opt_state"].items()}, out["params"]["k"].spec


def test_zero1_splits_the_largest_free_dimension_of_the_optimiser_state_only():
  specs, param_spec = _zero1_specs((2, 1, 4), {"mu": (3, 3, 16, 8), "odd": (3, 3, 5, 7),
                                               "count": ()})
  assert specs == {"mu": P(None, None, ("data", "space"), None), "odd": P(), "count": P()}
  assert param_spec == P()


def test_zero1_takes_the_axes_a_parameter_rule_leaves_free():
  # A param_sharding rule over 'data' (FSDP over the data axis): only 'space' is left, on
  # another dimension (naming 'data' twice was a DuplicateSpecError).
  specs, param_spec = _zero1_specs((2, 1, 4), {"mu": (3, 3, 16, 8)},
                                   P(None, None, None, "data"))
  assert specs == {"mu": P(None, None, "space", "data")}
  assert param_spec == P(None, None, None, "data")
  # An axis of size 1 in the rule splits nothing: that dimension is still free.
  specs, _ = _zero1_specs((8, 1, 1), {"mu": (3, 3, 4, 16)}, P(None, None, None, "model"))
  assert specs == {"mu": P(None, None, None, ("model", "data"))}


def test_zero1_on_a_mesh_without_data_parallel_chips_says_so(caplog):
  specs, _ = _zero1_specs((1, 4, 1), {"mu": (3, 3, 16, 8)})
  assert specs == {"mu": P()}
  assert "data x space = 1" in caplog.text
