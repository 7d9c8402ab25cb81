"""Benchmark: STARnet eval forward and one Adamax train step, JAX (XLA) vs PyTorch.

Not a test. Both frameworks run the same weights (the PyTorch restatement's random init,
converted with ``star_jax.convert``) on the same ImageNet-normalised random inputs, so the
benchmark doubles as a full-width cross-check: it prints the largest eval-output difference.

The train step is the release's pixel objective: L1 (mean) on every output of both stages,
stage weights 0.4 / 1.0 and output weights ht + 0.5 h1 + 0.5 h2 + l; for ``_REF`` models also
L1 on the two refined flows (against random targets), as the FR models are trained with a
flow term. Optimiser: Adamax(lr 1e-4, betas 0.9/0.999, eps 1e-8) in both frameworks.

JAX compile time (lower + compile) is reported apart from the steady state, which is the
median of ``--repeats`` runs after ``--warmups`` (default 1) untimed runs.

    python -m benchmarks model --variants V1,V4_REF --lr-size 64x112
"""

import argparse
import gc
import os
import platform
from typing import Dict, List

import numpy as np

from . import harness

OUTPUT_NAMES = ("ht", "h1", "h2", "l")
OUTPUT_WEIGHTS = {"ht": 1.0, "h1": 0.5, "h2": 0.5, "l": 1.0}
STAGE_WEIGHTS = (0.4, 1.0)
INPUT_NAMES = ("im1", "im2", "flow_f", "flow_b")
# output -> its target in harness.train_batch (the input pipeline's keys)
TARGETS = {"ht": "hr_t", "h1": "hr1", "h2": "hr2", "l": "lr_t", "flow_f": "gt_flow_f",
           "flow_b": "gt_flow_b"}


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--variants", default="V1,V4_REF",
                      help="comma-separated model variants (V1..V4, V1_REF..V4_REF)")
  parser.add_argument("--repeats", type=int, default=3,
                      help="timed runs per measurement after the warm-up (median reported)")
  parser.add_argument("--warmups", type=int, default=1,
                      help="untimed runs before timing (JAX compile is timed separately, so 0 "
                           "is acceptable for very slow steps)")
  parser.add_argument("--batch", type=int, default=1)
  parser.add_argument("--lr-size", default="64x112", help="LR input size HxW")
  parser.add_argument("--scale", type=int, default=4, choices=(2, 4, 8))
  parser.add_argument("--frameworks", default="jax,torch", help="subset of jax,torch")
  parser.add_argument("--modes", default="eval,train", help="subset of eval,train")
  parser.add_argument("--torch-threads", type=int, default=2,
                      help="torch.set_num_threads; XLA uses every core of the machine")
  args = parser.parse_args(argv)
  try:
    args.lr_h, args.lr_w = (int(v) for v in args.lr_size.lower().split("x"))
  except ValueError:
    parser.error(f"--lr-size must look like 64x112, got {args.lr_size!r}")
  args.variants = [v for v in args.variants.split(",") if v]
  args.frameworks = [f for f in args.frameworks.split(",") if f]
  args.modes = [m for m in args.modes.split(",") if m]
  for value, allowed, flag in ((args.frameworks, ("jax", "torch"), "--frameworks"),
                               (args.modes, ("eval", "train"), "--modes")):
    if not value or set(value) - set(allowed):
      parser.error(f"{flag} must be a comma-separated subset of {','.join(allowed)}")
  if args.repeats < 1 or args.warmups < 0:
    parser.error("--repeats must be at least 1 and --warmups at least 0")
  return args


# ----------------------------------------------------------------------------------- JAX
def run_jax(variant, state_dict, data, args) -> Dict[str, float]:
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel

  from star_jax.convert import release_to_variables  # pylint: disable=import-outside-toplevel
  from star_jax.model import build_model  # pylint: disable=import-outside-toplevel

  cfg, variables = release_to_variables(state_dict, {"scale": args.scale})
  if cfg.variant != variant:
    raise RuntimeError(f"converter detected {cfg.variant}, benchmark asked for {variant}")
  model = build_model(cfg)
  variables = jax.tree_util.tree_map(jnp.asarray, variables)
  inputs = tuple(jnp.asarray(data[k]) for k in INPUT_NAMES)
  targets = {k: jnp.asarray(v) for k, v in data.items() if k not in INPUT_NAMES}
  result = {}

  if "eval" in args.modes:
    def eval_forward(variables, *inputs):
      return model.apply(variables, *inputs, train=False)

    compiled, result["eval_compile"], _ = harness.timed(
        lambda: jax.jit(eval_forward).lower(variables, *inputs).compile())
    outputs = {}

    def run_eval():
      outputs.update(jax.block_until_ready(compiled(variables, *inputs)))

    result["eval"] = harness.median_seconds(run_eval, args.repeats, args.warmups)[0]
    result["eval_outputs"] = {k: np.asarray(v) for k, v in outputs.items()}

  if "train" in args.modes:
    (_, run_train), result["train_compile"], _ = harness.timed(
        lambda: jax_train_step(model, variables, inputs, targets))
    result["train"] = harness.median_seconds(run_train, args.repeats, args.warmups)[0]
  return result


def jax_train_step(model, variables, inputs, targets):
  """(compiled step, run_train): the benchmark's JAX train step compiled for these arrays,
  and a function that runs one step in place (state donated) and checks the loss."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import optax  # pylint: disable=import-outside-toplevel

  has_batch_stats = "batch_stats" in variables
  tx = optax.adamax(1e-4, 0.9, 0.999, 1e-8)

  def loss_fn(params, batch_stats, inputs, targets):
    tree = {"params": params}
    if has_batch_stats:
      tree["batch_stats"] = batch_stats
      outputs, updates = model.apply(tree, *inputs, train=True, mutable=["batch_stats"])
      batch_stats = updates["batch_stats"]
    else:
      outputs = model.apply(tree, *inputs, train=True)
    loss = 0.0
    for stage, stage_weight in enumerate(STAGE_WEIGHTS):
      for name in OUTPUT_NAMES:
        error = jnp.mean(jnp.abs(outputs[name][stage] - targets[TARGETS[name]]))
        loss = loss + stage_weight * OUTPUT_WEIGHTS[name] * error
    for name in ("flow_f", "flow_b"):
      if name in outputs:
        loss = loss + jnp.mean(jnp.abs(outputs[name] - targets[TARGETS[name]]))
    return loss, batch_stats

  def train_step(params, batch_stats, opt_state, inputs, targets):
    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, batch_stats, inputs, targets)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state, loss

  state = [variables["params"], variables.get("batch_stats", {}),
           tx.init(variables["params"])]
  compiled = jax.jit(train_step, donate_argnums=(0, 1, 2)).lower(
      *state, inputs, targets).compile()

  def run_train():
    *new_state, loss = compiled(*state, inputs, targets)
    state[:] = new_state
    if not np.isfinite(float(loss)):
      raise FloatingPointError(f"JAX train loss is {float(loss)}")

  return compiled, run_train


# ------------------------------------------------------------------------------- PyTorch
def build_torch(variant, args):
  import torch  # pylint: disable=import-outside-toplevel

  # starnet_torch/ is not installed: it is imported from the repository root (the working
  # directory of python -m benchmarks).
  from starnet_torch import build_model  # pylint: disable=import-outside-toplevel

  torch.manual_seed(0)
  return build_model(variant, scale_factor=args.scale)


def run_torch(model, data, args) -> Dict[str, float]:
  import torch  # pylint: disable=import-outside-toplevel

  torch.set_num_threads(args.torch_threads)

  def nchw(name):
    return torch.from_numpy(np.ascontiguousarray(data[name].transpose(0, 3, 1, 2)))

  inputs = [nchw(k) for k in INPUT_NAMES]
  targets = {k: nchw(k) for k in data if k not in INPUT_NAMES}
  result = {}

  if "eval" in args.modes:
    model.eval()
    outputs = {}

    def run_eval():
      with torch.no_grad():
        outputs.update(zip(OUTPUT_NAMES, model(*inputs, train=False)))

    result["eval"] = harness.median_seconds(run_eval, args.repeats, args.warmups)[0]
    result["eval_outputs"] = {k: v.numpy().transpose(0, 2, 3, 1) for k, v in outputs.items()}

  if "train" in args.modes:
    result["train"] = harness.median_seconds(torch_train_step(model, inputs, targets),
                                             args.repeats, args.warmups)[0]
  return result


def torch_train_step(model, inputs, targets):
  """A function running one PyTorch train step of the benchmark's objective (Adamax) on
  NCHW tensors, checking the loss."""
  import torch  # pylint: disable=import-outside-toplevel

  model.train()
  optimizer = torch.optim.Adamax(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)

  def run_train():
    optimizer.zero_grad(set_to_none=True)
    outputs = model(*inputs, train=True)
    loss = 0.0
    for name, stages in zip(OUTPUT_NAMES, outputs[:4]):
      for stage_weight, output in zip(STAGE_WEIGHTS, stages):
        error = torch.mean(torch.abs(output - targets[TARGETS[name]]))
        loss = loss + stage_weight * OUTPUT_WEIGHTS[name] * error
    for name, flow in zip(("flow_f", "flow_b"), outputs[4:]):
      loss = loss + torch.mean(torch.abs(flow - targets[TARGETS[name]]))
    loss.backward()
    optimizer.step()
    loss = float(loss.detach())
    if not np.isfinite(loss):
      raise FloatingPointError(f"PyTorch train loss is {loss}")

  return run_train


# -------------------------------------------------------------------------------- report
def versions() -> List[str]:
  lines = [f"python {platform.python_version()}, {platform.machine()}, "
           f"{os.cpu_count()} logical CPUs ({_cpu_name()})"]
  import jax  # pylint: disable=import-outside-toplevel
  import flax  # pylint: disable=import-outside-toplevel
  import optax  # pylint: disable=import-outside-toplevel
  import torch  # pylint: disable=import-outside-toplevel
  lines.append(f"jax {jax.__version__}, jaxlib {jax.lib.__version__}, flax {flax.__version__}, "
               f"optax {optax.__version__}, torch {torch.__version__}, numpy {np.__version__}; "
               f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
  return lines


def _cpu_name() -> str:
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown CPU"


def _summary(result) -> str:
  return ", ".join(f"{k} {v:.2f} s" for k, v in result.items() if isinstance(v, float))


def _fmt(value):
  return "-" if value is None else f"{value:.2f}"


def main(argv=None) -> int:
  args = parse_args(argv)
  print("\n".join(versions()))
  print(f"batch {args.batch}, LR {args.lr_h}x{args.lr_w}, x{args.scale}, fp32, "
        f"repeats {args.repeats} (median after {args.warmups} warm-up), "
        f"torch threads {args.torch_threads}")
  data = harness.train_batch(args.batch, args.lr_h, args.lr_w, args.scale)
  rows = []
  for variant in args.variants:
    torch_model = build_torch(variant, args)
    n_params = sum(p.numel() for p in torch_model.parameters())
    state_dict = {k: v.detach().numpy().copy() for k, v in torch_model.state_dict().items()}
    jax_result, torch_result = {}, {}
    if "jax" in args.frameworks:
      print(f"[{variant}] JAX ...", flush=True)
      jax_result = run_jax(variant, state_dict, data, args)
      print(f"[{variant}] JAX: {_summary(jax_result)}", flush=True)
      gc.collect()
    if "torch" in args.frameworks:
      print(f"[{variant}] PyTorch ...", flush=True)
      torch_result = run_torch(torch_model, data, args)
      print(f"[{variant}] PyTorch: {_summary(torch_result)}", flush=True)
    del torch_model
    gc.collect()
    if "eval_outputs" in jax_result and "eval_outputs" in torch_result:
      diff = max(float(np.max(np.abs(jax_result["eval_outputs"][k] -
                                     torch_result["eval_outputs"][k]))) for k in OUTPUT_NAMES)
      scale = max(float(np.max(np.abs(torch_result["eval_outputs"][k]))) for k in OUTPUT_NAMES)
      print(f"[{variant}] eval outputs, max |JAX - PyTorch| = {diff:.2e} (max |PyTorch| = "
            f"{scale:.2e})")
    for mode in args.modes:
      jt, tt = jax_result.get(mode), torch_result.get(mode)
      ratio = jt / tt if jt is not None and tt is not None else None
      rows.append((variant, f"{n_params / 1e6:.1f}M", mode, _fmt(jax_result.get(f"{mode}_compile")),
                   _fmt(jt), _fmt(tt), _fmt(ratio)))
    print(f"[{variant}] done", flush=True)

  header = ("variant", "params", "mode", "JAX compile s", "JAX s", "PyTorch s", "JAX/PyTorch")
  print()
  print(harness.aligned_markdown_table(header, rows))
  return 0
