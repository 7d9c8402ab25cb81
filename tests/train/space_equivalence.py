"""Run by test_space_sharding.py in a fresh process with 8 fake CPU devices: a narrow
STARnet's outputs, loss terms and parameter gradients (training mode, the train step's
loss), computed on one device and on meshes with a 'space' axis (image heights split over
devices), or (``--steps``) the real train and eval steps (``trainer.jit_train_step``,
``evaluation.jit_eval_step``) on the same meshes. Prints one JSON line: per mesh, the
largest relative differences from the one-device run.

Usage: ``space_equivalence.py VARIANT HEIGHT WIDTH MESH [MESH ...] [--steps [--gauge]
[--zero1]]``, each MESH as ``data,model,space`` (e.g. ``1,1,8``); HEIGHT x WIDTH is the LR
frame (scale 2). ``--gauge`` adds ``nudged_inputs``: one device's steps at inputs moved by
1e-7 relative against one device's, what float rounding alone moves them by. ``--zero1``
splits the optimiser state of the meshes' steps over 'data' x 'space'
(``sharding.zero1_shardings``).
``space_equivalence.py --memory VARIANT HEIGHT WIDTH SPACE`` compiles the train step for
one sample on one device and on ``SPACE`` devices and prints the temporary bytes per device
and the all-gathers of the split program.

Gradients are compared relative to the largest gradient (``grads``, the convention of
``sharding_equivalence.py`` for parameters); ``grads_per_leaf`` is reported too but not
bounded: a PReLU slope's gradient is a sum over every pixel with heavy cancellation, so
its own relative difference reflects float summation order (3e-4 at space=2 for the
narrow V4, where every output is within 4e-6). The FR models' flow UNet's gradients are
reported apart (``grads_flow_net``), beside one device's at inputs moved by 1e-7 relative
(``grads_flow_net_nudged_inputs``: what float rounding alone moves them by), and the
updated BatchNorm statistics (``batch_stats``). The FR models are well conditioned only at
one sample per data group (at two, a 1e-7 nudge moves the flow UNet's gradients by 3.4x
their largest entry at LR 10x8): measured values and the two-step check (``--steps
--gauge``) are in ``benchmarks/results/space_axis.md``.
"""

import json
import os
import re
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from star_jax.data import pipeline  # pylint: disable=wrong-import-position
from star_jax.model import build_model, parse_variant, sample_inputs  # pylint: disable=wrong-import-position
from star_jax.model.unet import FlowUNet  # pylint: disable=wrong-import-position
from star_jax.train import checkpoints, evaluation, objectives, sharding, trainer  # pylint: disable=wrong-import-position
from star_jax.train import step as step_lib  # pylint: disable=wrong-import-position
from star_jax.train.config import base_config  # pylint: disable=wrong-import-position
from sharding_equivalence import train_steps  # pylint: disable=wrong-import-position (a sibling: this folder is sys.path[0])

SCALE = 2


def make_batch(rng, size, h, w):
  im = lambda *shape: rng.normal(size=(size, *shape)).astype(np.float32)
  fl = lambda: rng.uniform(-0.05, 0.05, size=(size, h, w, 2)).astype(np.float32)
  s = SCALE
  return {"im1": im(h, w, 3), "im2": im(h, w, 3), "flow_f": fl(), "flow_b": fl(),
          "hr1": im(s * h, s * w, 3), "hr_t": im(s * h, s * w, 3), "hr2": im(s * h, s * w, 3),
          "lr_t": im(h, w, 3), "gt_flow_f": fl(), "gt_flow_b": fl()}


def narrow_config(variant):
  config = base_config()
  config.model.update(variant=variant, scale=SCALE, base_filter=8, feat=4, n_resblock=1)
  return config


def outputs_loss_grads(config, model, variables, batches, mesh):
  """Per batch of ``batches``: (training-mode outputs, loss terms, parameter gradients,
  updated BatchNorm running statistics: {} without BatchNorm) of the train step's loss,
  jitted once for ``mesh`` the way the train step is (batch as ``global_batch`` places it,
  split inside and traced under the mesh by ``on_mesh``), results gathered to the host."""
  def fn(variables, batch):
    def loss_fn(params):
      apply_vars = dict(variables, params=params)
      updates = {}
      if "batch_stats" in variables:
        outputs, updates = model.apply(apply_vars, *step_lib._model_inputs(batch), train=True,  # pylint: disable=protected-access
                                       mutable=["batch_stats"])
      else:
        outputs = model.apply(apply_vars, *step_lib._model_inputs(batch), train=True)  # pylint: disable=protected-access
      terms = objectives.star_loss(outputs, batch, config.objective, config.loss)
      return terms["total"], (outputs, terms, updates.get("batch_stats", {}))
    grads, (outputs, terms, stats) = jax.grad(loss_fn, has_aux=True)(variables["params"])
    return outputs, terms, grads, stats
  replicated = sharding.replicated(mesh)
  jitted = jax.jit(sharding.on_mesh(fn, mesh), in_shardings=(replicated, None),
                   out_shardings=replicated)
  variables = jax.device_put(variables, replicated)
  return [jax.device_get(jitted(variables, sharding.global_batch(batch, mesh)))
          for batch in batches]


def real_steps(config, model, batches, mesh, zero1=False):
  """Two steps of ``trainer.jit_train_step`` (with ``zero1`` the optimiser state split over
  'data' x 'space') and then ``evaluation.jit_eval_step`` on ``mesh``: (losses, metrics of
  the last step, params, eval PSNRs, eval uint8 images)."""
  losses, metrics, state, _, shardings = train_steps(config, model, mesh, batches, zero1=zero1)
  eval_fn = evaluation.jit_eval_step(model, SCALE, mesh, shardings)
  psnr, images = jax.device_get(eval_fn(state, sharding.global_batch(batches[0], mesh)))
  return losses, jax.device_get(metrics), jax.device_get(state.params), psnr, images


def steps_diffs(run, reference):
  """``real_steps`` results against the reference run's, as the largest differences."""
  losses, metrics, params, psnr, images = run
  ref_losses, ref_metrics, ref_params, ref_psnr, ref_images = reference
  # Parameters relative to their overall scale: a per-tensor ratio is ill-posed for the
  # zero-initialised biases, whose first steps are +-lr whatever |g| is.
  return dict(
      step_losses=max_rel_diff(losses, ref_losses),
      step_metrics=max_rel_diff(metrics, ref_metrics),
      step_params=max_abs_diff(params, ref_params) / max_abs(ref_params),
      eval_psnr=max_rel_diff(psnr, ref_psnr),
      eval_image_levels=max(int(np.max(np.abs(a.astype(int) - b.astype(int))))
                            for a, b in zip(jax.tree_util.tree_leaves(images),
                                            jax.tree_util.tree_leaves(ref_images))))


def max_rel_diff(tree, reference):
  """The largest per-leaf max|a - b| / max|b| (leaves whose reference is all zero: max|a|)."""
  worst = 0.0
  for a, b in zip(jax.tree_util.tree_leaves(tree), jax.tree_util.tree_leaves(reference)):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    diff = float(np.max(np.abs(a - b))) if b.size else 0.0
    worst = max(worst, diff / scale if scale else diff)
  return worst


def split_flow_net(grads):
  """(gradients of everything but the FR UNet, the FR UNet's: {} without one)."""
  grads = dict(grads)
  return grads, grads.pop("flow_net", {})


def max_abs(tree):
  return max(float(np.max(np.abs(leaf))) for leaf in jax.tree_util.tree_leaves(tree))


def max_abs_diff(tree, reference):
  return max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
             for a, b in zip(jax.tree_util.tree_leaves(tree),
                             jax.tree_util.tree_leaves(reference)))


def compiled_split(variant, h, w, space):
  """The real train step compiled (not run) for a batch of one LR ``h`` x ``w`` sample on
  mesh (1, 1, ``space``): (temporary bytes per device, the all-gathers' result shapes)."""
  config = narrow_config(variant)
  config.batch_size = 1
  mesh = sharding.make_mesh((1, 1, space), jax.devices()[:space])
  program = trainer.build_program(config, mesh, 10)
  state = checkpoints.abstract_with_shardings(program.abstract_state, program.state_shardings)
  step = trainer.jit_train_step(config, program.model, program.tx, program.schedule, mesh,
                                program.state_shardings)
  batch = {key: jax.ShapeDtypeStruct(shape, np.float32,
                                     sharding=sharding.batch_sharding(mesh, shape))
           for key, shape in pipeline.batch_shapes(1, h, w, SCALE).items()}
  compiled = step.lower(state, batch).compile()
  gathers = re.findall(r"= (\S+) all-gather\(", compiled.as_text())
  return compiled.memory_analysis().temp_size_in_bytes, gathers


def flow_unet_gradients(x, ct, mesh):
  """The FR flow UNet alone (release widths, BatchNorm on its running statistics): its
  parameters' and input's gradients for input ``x`` and output cotangent ``ct``, jitted
  for ``mesh`` as the train step is (``on_mesh``), gathered to the host."""
  net = FlowUNet()
  variables = net.init(jax.random.key(0), x[:1, :8, :8], False)

  def fn(params, batch):
    loss = lambda p, x: jnp.sum(net.apply(dict(variables, params=p), x, False) * batch["ct"])
    return jax.grad(loss, argnums=(0, 1))(params, batch["x"])
  replicated = sharding.replicated(mesh)
  jitted = jax.jit(sharding.on_mesh(fn, mesh), in_shardings=(replicated, None),
                   out_shardings=replicated)
  return jax.device_get(jitted(jax.device_put(variables["params"], replicated),
                               sharding.global_batch({"x": x, "ct": ct}, mesh)))


def main():
  if sys.argv[1] == "--flow-unet":  # --flow-unet HEIGHT WIDTH MESH [MESH ...]
    h, w = map(int, sys.argv[2:4])
    meshes = [tuple(int(s) for s in m.split(",")) for m in sys.argv[4:]]
    rng = np.random.default_rng(0)
    size = max(m[0] for m in meshes)
    x = rng.normal(size=(size, h, w, 8)).astype(np.float32)
    ct = rng.normal(size=(size, h, w, 2)).astype(np.float32)
    reference = flow_unet_gradients(x, ct, sharding.make_mesh((1, 1, 1), jax.devices()[:1]))
    result = {}
    for shape in meshes:
      grads = flow_unet_gradients(x, ct, sharding.make_mesh(shape,
                                                            jax.devices()[:int(np.prod(shape))]))
      result[",".join(map(str, shape))] = {
          "params": max_abs_diff(grads[0], reference[0]) / max_abs(reference[0]),
          "input": max_abs_diff(grads[1], reference[1]) / max_abs(reference[1])}
    json.dump(result, sys.stdout)
    return
  if sys.argv[1] == "--memory":  # --memory VARIANT HEIGHT WIDTH SPACE
    variant, h, w, space = sys.argv[2], *map(int, sys.argv[3:6])
    one, split = compiled_split(variant, h, w, 1), compiled_split(variant, h, w, space)
    json.dump({"temp_bytes_1": one[0], "temp_bytes_split": split[0],
               "all_gathers_split": split[1]}, sys.stdout)
    return
  args = [a for a in sys.argv[1:] if a not in ("--steps", "--gauge", "--zero1")]
  with_steps = "--steps" in sys.argv[1:]
  with_gauge = "--gauge" in sys.argv[1:]
  zero1 = "--zero1" in sys.argv[1:]
  variant, h, w = args[0], int(args[1]), int(args[2])
  meshes = [tuple(int(s) for s in m.split(",")) for m in args[3:]]
  devices = jax.devices()
  assert len(devices) == 8, devices
  rng = np.random.default_rng(0)
  batch_size = max(m[0] for m in meshes)
  batches = [make_batch(rng, batch_size, h, w) for _ in range(2)]
  nudge = lambda batch: jax.tree_util.tree_map(
      lambda x: x * (1 + 1e-7 * rng.standard_normal(x.shape)).astype(np.float32), batch)
  config = narrow_config(variant)
  model = build_model(config.model)
  variables = model.init(jax.random.key(1), *sample_inputs())

  one = sharding.make_mesh((1, 1, 1), devices[:1])
  if with_steps:
    reference_steps = real_steps(config, model, batches, one)
    if with_gauge:
      nudged_steps = real_steps(config, model, [nudge(b) for b in batches], one)
  else:
    # FR models: also one device's gradients at inputs moved by 1e-7 relative, the scale
    # of float rounding: how far summation order alone can move the flow UNet's gradients.
    nudged = nudge(batches[0])
    reference, *nudged_result = outputs_loss_grads(
        config, model, variables, [batches[0], nudged][:2 if parse_variant(variant)[1] else 1],
        one)
  result = {}
  for shape in meshes:
    mesh = sharding.make_mesh(shape, devices[:int(np.prod(shape))])
    if not with_steps:
      (outputs, terms, grads, stats), = outputs_loss_grads(config, model, variables,
                                                           batches[:1], mesh)
      core, flow_net = split_flow_net(grads)
      ref_core, ref_flow_net = split_flow_net(reference[2])
      entry = {"outputs": max_rel_diff(outputs, reference[0]),
               "losses": max_rel_diff(terms, reference[1]),
               "grads": max_abs_diff(core, ref_core) / max_abs(ref_core),
               "grads_per_leaf": max_rel_diff(grads, reference[2])}
      if stats:
        entry["batch_stats"] = max_rel_diff(stats, reference[3])
      if flow_net:
        entry["grads_flow_net"] = max_abs_diff(flow_net, ref_flow_net) / max_abs(ref_flow_net)
        entry["grads_flow_net_nudged_inputs"] = (
            max_abs_diff(split_flow_net(nudged_result[0][2])[1], ref_flow_net)
            / max_abs(ref_flow_net))
    else:
      entry = steps_diffs(real_steps(config, model, batches, mesh, zero1), reference_steps)
    result[",".join(map(str, shape))] = entry
  if with_steps and with_gauge:
    result["nudged_inputs"] = steps_diffs(nudged_steps, reference_steps)
  json.dump(result, sys.stdout)


if __name__ == "__main__":
  main()
