"""Run by test_sharding.py in a fresh process with 8 fake CPU devices: two train steps of a
narrow STARnet (V4 core) on meshes (1,1), (8,1) and (4,2) (the latter with FSDP-style
kernel sharding over 'model' and the optimiser state split over 'data' too, ZeRO stage 1);
prints the losses and parameters' max relative difference.
Also checks the FR UNet's BatchNorm (batch statistics over a batch split across devices)."""

import json
import os
import pathlib
import sys
import tempfile

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8")

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top,wrong-import-position

from star_jax.model import build_model, sample_inputs  # pylint: disable=wrong-import-position
from star_jax.train import checkpoints, sharding, trainer  # pylint: disable=wrong-import-position
from star_jax.train.config import base_config, with_fields  # pylint: disable=wrong-import-position
from star_jax.train.state import (create_state, learning_rate_schedule,  # pylint: disable=wrong-import-position
                                  make_optimizer)


def train_steps(config, model, mesh, batches, rules=(), zero1=False):
  """``trainer.jit_train_step`` on ``mesh`` from the initial state, one step per batch (a
  1e-4 Adamax schedule): (losses, last step's metrics, state, abstract state, parameter
  shardings by ``rules``, with ``zero1`` the optimiser state split over 'data' and 'space'
  as well)."""
  schedule = learning_rate_schedule(1e-4, 10, 30, 0.1)
  tx = make_optimizer(config, schedule)
  abstract = jax.eval_shape(lambda k: create_state(model, tx, k, sample_inputs()),
                            jax.random.key(0))
  shardings = sharding.param_shardings(abstract, mesh, rules)
  if zero1:  # as trainer.build_program and jit_train_step do with shard_optimizer_state
    shardings = sharding.zero1_shardings(abstract, shardings, mesh)
    config = with_fields(config, shard_optimizer_state=True)
  state = trainer.initial_state(config, model, tx, shardings)
  step = trainer.jit_train_step(config, model, tx, schedule, mesh, shardings)
  losses = []
  for batch in batches:
    state, metrics = step(state, sharding.global_batch(batch, mesh))
    losses.append(float(metrics["loss/total"]))
  return losses, metrics, state, abstract, shardings


def run(mesh_shape, devices, rules, batches, zero1=False):
  config = base_config()
  config.model.update(variant="V4", scale=2, base_filter=8, feat=4, n_resblock=1)
  mesh = sharding.make_mesh(mesh_shape, devices)
  model = build_model(config.model)
  losses, _, state, abstract, shardings = train_steps(config, model, mesh, batches, rules,
                                                      zero1)
  specs = [str(s.spec) for s in jax.tree_util.tree_leaves(shardings)]
  sharded_leaves = {axis: sum(axis in spec for spec in specs) for axis in ("model", "data")}
  return losses, jax.device_get(state.params), sharded_leaves, (state, abstract, shardings)


def main():
  rng = np.random.default_rng(0)
  h, w, s = 8, 8, 2
  def batch():
    im = lambda *shape: rng.normal(size=(8, *shape)).astype(np.float32)
    fl = lambda: rng.uniform(-0.02, 0.02, size=(8, h, w, 2)).astype(np.float32)
    return {"im1": im(h, w, 3), "im2": im(h, w, 3), "flow_f": fl(), "flow_b": fl(),
            "hr1": im(s * h, s * w, 3), "hr_t": im(s * h, s * w, 3), "hr2": im(s * h, s * w, 3),
            "lr_t": im(h, w, 3), "gt_flow_f": fl(), "gt_flow_b": fl()}
  batches = [batch(), batch()]
  devices = jax.devices()
  assert len(devices) == 8, devices
  fsdp = ((r".*kernel", (None, None, None, "model")),)
  reference_losses, reference_params, _, _ = run((1, 1), devices[:1], (), batches)
  result = {"reference_losses": reference_losses}
  states = {}
  for name, shape, rules, zero1 in (("8x1", (8, 1), (), False), ("4x2", (4, 2), fsdp, True)):
    losses, params, sharded, states[name] = run(shape, devices, rules, batches, zero1)
    # Relative to the parameters' overall scale: a per-tensor ratio is ill-posed for the
    # zero-initialised biases, whose first Adamax steps are +-lr whatever |g| is.
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(
        jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(reference_params)))
    scale = max(float(np.max(np.abs(b))) for b in jax.tree_util.tree_leaves(reference_params))
    result[name] = {"losses": losses, "max_param_rel_diff": diff / scale,
                    "sharded_leaves": sharded}
  result["restore_8x1_onto_4x2"] = restore_onto_other_mesh(states["8x1"], states["4x2"])
  json.dump(result, sys.stdout)


def restore_onto_other_mesh(saved, target):
  """Save the (8,1) state as the trainer does and restore it onto the (4,2) FSDP + ZeRO-1
  mesh."""
  state, _, _ = saved
  _, abstract, shardings = target
  with tempfile.TemporaryDirectory() as tmp:
    with ocp.StandardCheckpointer() as ckptr:
      ckptr.save(pathlib.Path(tmp) / "state", state)
      restored = ckptr.restore(pathlib.Path(tmp) / "state",
                               checkpoints.abstract_with_shardings(abstract, shardings))
  equal = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(
      jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(restored)))
  on_target = all(a.sharding.is_equivalent_to(s, a.ndim) for a, s in zip(
      jax.tree_util.tree_leaves(restored), jax.tree_util.tree_leaves(shardings)))
  return {"values_equal": equal, "shardings_are_target": on_target}


if __name__ == "__main__":
  main()
