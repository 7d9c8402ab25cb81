"""``python -m benchmarks <tool> [options]``: every benchmark tool, from the repository root.

``python -m benchmarks <tool> --help`` gives a tool's options. Each tool is a module of this
package with ``parse_args(argv)`` and ``main(argv)``; results are in ``benchmarks/results/``.
"""

import importlib
import sys

# tool -> (module, what it measures); modules are imported only when their tool runs.
TOOLS = {
    "model": ("bench_model", "eval forward and Adamax train step, JAX vs PyTorch (CPU)"),
    "step-mfu": ("bench_step_mfu", "an experiment config's train/eval steps/s, FLOPs, MFU"),
    "flow": ("bench_flow", "coarse2fine flow pairs/s, exact and fast"),
    "infer": ("bench_infer", "space-time inference output frames/s, per tile"),
    "export": ("bench_export", "ONNX export in onnxruntime against the JAX forward"),
    "input-pipeline": ("bench_input_pipeline", "input pipeline samples/s per CPU core"),
    "cpu-peak": ("cpu_peak", "this CPU's float32 matmul peak FLOP/s (the MFU denominator)"),
    "train-memory": ("train_memory", "compiled train step's peak memory and FLOPs"),
    "remat-policy": ("plan_remat_policy", "a TPU plan of the train step under a remat policy"),
    "accelerator-suite": ("accelerator_suite", "GPU/TPU train, inference and flow numbers"),
    "profile-step": ("profile_train_step", "one train step's time per op group, JAX vs PyTorch"),
    "profile-ops": ("profile_train_ops", "per-layer forward/backward times, JAX vs PyTorch"),
    "bf16-parity": ("bf16_parity", "bfloat16 vs float32 outputs on the parity fixtures"),
}


def usage() -> str:
  width = max(map(len, TOOLS))
  return "\n".join([
      "usage: python -m benchmarks <tool> [options]   (python -m benchmarks <tool> --help)",
      "", "tools:", *(f"  {name.ljust(width)}  {what}" for name, (_, what) in TOOLS.items())])


def tool_module(name: str):
  """The module of tool ``name``."""
  return importlib.import_module(f"benchmarks.{TOOLS[name][0]}")


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else list(argv)
  if argv[:1] in (["-h"], ["--help"]):
    print(usage())
    return 0
  if not argv:
    print(f"{usage()}\nerror: name a tool", file=sys.stderr)
    return 2
  name, *options = argv
  if name not in TOOLS:
    print(f"{usage()}\nerror: unknown tool {name!r}", file=sys.stderr)
    return 2
  sys.argv[0] = f"python -m benchmarks {name}"  # the tool's usage line (argparse's prog)
  return tool_module(name).main(options) or 0


if __name__ == "__main__":
  raise SystemExit(main())
