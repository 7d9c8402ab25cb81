"""Where one whole train step's time goes on this CPU, JAX next to PyTorch.

Not a test. The model, inputs, objective and optimiser are ``bench_model.py``'s (the
PyTorch restatement's random init converted to JAX; release pixel loss; Adamax). After one
untimed step each, one JAX step runs under ``jax.profiler`` and one PyTorch step under
``torch.profiler``:

- JAX: every XLA:CPU thunk of the trace is matched to its instruction in the compiled HLO
  and grouped: convolution forward / input gradient / weight gradient (a backward
  convolution whose window spans a feature map, > 8 px, is a weight gradient; XLA:CPU
  puts convolutions and dots into YNNPACK fusions, which take the group of what they call), dot (the
  matmul + overlap-add transposed convolution and its VJP), layout copies and transposes,
  other fusions (activations, losses, BatchNorm, the optimiser update), everything else.
- PyTorch: ``key_averages()`` self CPU time per aten op.

Thunk times are summed over threads, so a group's total can exceed the step's wall time.

    python -m benchmarks profile-step --variant V1 --lr-size 64x112
"""

import argparse
import collections
import gzip
import json
import pathlib
import re
import tempfile

import numpy as np

from . import bench_model, harness

_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (\S+) ([\w\-]+)\(")
_WINDOW = re.compile(r"window=\{size=([\dx]+)")
GROUPS = ("conv forward", "conv input gradient", "conv weight gradient", "dot",
          "layout copy/transpose", "other fusion", "other")


def _convolution_group(line: str) -> str:
  window = _WINDOW.search(line)
  if window and max(int(v) for v in window.group(1).split("x")) > 8:
    return "conv weight gradient"  # the window is a feature map, not a kernel (<= 8 at x4)
  return "conv input gradient" if "transpose(" in line else "conv forward"


def hlo_groups(hlo_text: str):
  """{instruction name: (group, result type)} of a compiled module's HLO text. A fusion
  (XLA:CPU puts convolutions and dots into YNNPACK fusions) takes the group of the
  convolution or dot it calls."""
  computations, current = {}, None
  for line in hlo_text.splitlines():
    header = re.match(r"^(?:ENTRY )?%([\w.\-]+) ", line)
    if header and line.rstrip().endswith("{"):
      current = computations.setdefault(header.group(1), [])
    elif current is not None:
      current.append(line)
  groups = {}
  for line in hlo_text.splitlines():
    match = _INSTRUCTION.match(line)
    if not match:
      continue
    name, result_type, opcode = match.groups()
    called = re.search(r"calls=%([\w.\-]+)", line)
    body = computations.get(called.group(1), []) if called else []
    convolutions = [l for l in body if " convolution(" in l]
    if opcode == "convolution":
      group = _convolution_group(line)
    elif convolutions:
      group = _convolution_group(convolutions[0])
    elif opcode == "dot" or any(" dot(" in l for l in body):
      group = "dot"
    elif opcode in ("copy", "transpose") or (opcode == "fusion" and re.search(
        r"^(bitcast_|transpose_|copy_)*(copy|transpose)_?fusion", name)):
      group = "layout copy/transpose"
    elif opcode == "fusion":
      group = "other fusion"
    else:
      group = "other"
    groups[name] = (group, result_type)
  return groups


def profile_jax(model, variables, inputs, targets, workdir: pathlib.Path):
  import jax  # pylint: disable=import-outside-toplevel

  compiled, run_train = bench_model.jax_train_step(model, variables, inputs, targets)
  groups = hlo_groups(compiled.as_text())
  run_train()  # untimed

  def traced_step():
    with jax.profiler.trace(str(workdir), create_perfetto_trace=True):
      run_train()

  _, wall, cpu = harness.timed(traced_step)
  trace_file = next(workdir.rglob("perfetto_trace.json.gz"))
  events = json.loads(gzip.decompress(trace_file.read_bytes()))
  events = events["traceEvents"] if isinstance(events, dict) else events
  per_group = collections.defaultdict(lambda: [0, 0.0])
  per_op = collections.defaultdict(lambda: [0, 0.0])
  for event in events:
    if event.get("ph") != "X" or event.get("name") not in groups:
      continue
    group, result_type = groups[event["name"]]
    seconds = event.get("dur", 0.0) / 1e6
    per_group[group][0] += 1
    per_group[group][1] += seconds
    key = (group, re.sub(r"\.\d+$", "", event["name"]), result_type.split("{")[0])
    per_op[key][0] += 1
    per_op[key][1] += seconds
  return wall, cpu, per_group, per_op


def profile_torch(model, inputs, targets):
  import torch  # pylint: disable=import-outside-toplevel

  run_train = bench_model.torch_train_step(model, inputs, targets)
  run_train()  # untimed

  def profiled_step():
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
      run_train()
    return prof

  prof, wall, cpu = harness.timed(profiled_step)
  ops = [(e.key, e.count, e.self_cpu_time_total / 1e6) for e in prof.key_averages()]
  return wall, cpu, sorted(ops, key=lambda op: -op[2])


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--variant", default="V1")
  parser.add_argument("--lr-size", default="64x112", help="LR input size HxW")
  parser.add_argument("--batch", type=int, default=1)
  parser.add_argument("--top", type=int, default=12, help="rows of the per-op tables")
  parser.add_argument("--torch-threads", type=int, default=2)
  return parser.parse_args(argv)


def main(argv=None) -> int:
  args = parse_args(argv)
  lr_h, lr_w = (int(v) for v in args.lr_size.lower().split("x"))
  bench_args = argparse.Namespace(scale=4)

  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import torch  # pylint: disable=import-outside-toplevel

  from star_jax.convert import release_to_variables  # pylint: disable=import-outside-toplevel
  from star_jax.model import build_model  # pylint: disable=import-outside-toplevel

  torch.set_num_threads(args.torch_threads)
  print("\n".join(bench_model.versions()))
  print(f"{args.variant}, batch {args.batch}, LR {lr_h}x{lr_w}, x4, fp32")
  data = harness.train_batch(args.batch, lr_h, lr_w, 4)
  torch_model = bench_model.build_torch(args.variant, bench_args)
  state_dict = {k: v.detach().numpy().copy() for k, v in torch_model.state_dict().items()}
  cfg, variables = release_to_variables(state_dict, {"scale": 4})
  model = build_model(cfg)
  variables = jax.tree_util.tree_map(jnp.asarray, variables)
  inputs = tuple(jnp.asarray(data[k]) for k in bench_model.INPUT_NAMES)
  targets = {k: jnp.asarray(v) for k, v in data.items() if k not in bench_model.INPUT_NAMES}
  with tempfile.TemporaryDirectory() as tmp:
    j_wall, j_cpu, per_group, per_op = profile_jax(model, variables, inputs, targets,
                                                   pathlib.Path(tmp))
  del variables, inputs, targets

  def nchw(name):
    return torch.from_numpy(np.ascontiguousarray(data[name].transpose(0, 3, 1, 2)))

  t_wall, t_cpu, torch_ops = profile_torch(
      torch_model, [nchw(k) for k in bench_model.INPUT_NAMES],
      {k: nchw(k) for k in data if k not in bench_model.INPUT_NAMES})

  print(f"\nprofiled step: JAX {j_wall:.2f} s wall / {j_cpu:.2f} s CPU; "
        f"PyTorch {t_wall:.2f} s wall / {t_cpu:.2f} s CPU\n")
  total = sum(v[1] for v in per_group.values())
  print("| JAX thunk group | thunks | thread-seconds | share |\n|---|---|---|---|")
  for group in GROUPS:
    count, seconds = per_group.get(group, (0, 0.0))
    print(f"| {group} | {count} | {seconds:.2f} | {100 * seconds / total:.1f}% |")
  print(f"| **all** | {sum(v[0] for v in per_group.values())} | {total:.2f} | |\n")
  print("| JAX op (group, name, result) | calls | thread-seconds |\n|---|---|---|")
  for (group, name, result_type), (count, seconds) in sorted(
      per_op.items(), key=lambda item: -item[1][1])[:args.top]:
    print(f"| {group}: {name} -> {result_type} | {count} | {seconds:.2f} |")
  torch_total = sum(op[2] for op in torch_ops)
  print("\n| PyTorch op | calls | self CPU s | share |\n|---|---|---|---|")
  for name, count, seconds in torch_ops[:args.top]:
    print(f"| {name} | {count} | {seconds:.2f} | {100 * seconds / torch_total:.1f}% |")
  print(f"| **all** | | {torch_total:.2f} | |")
  return 0
