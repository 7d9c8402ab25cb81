"""ONNX export in onnxruntime (CPU) against our jitted JAX forward, on the same inputs: time
per pair and the largest output difference, per parity model (narrow widths, the parity
fixtures' LR sizes) and optionally one full-width model with random weights.

Each model is exported (jax2onnx, batch 1, fixed LR size) into a temporary directory; both
runtimes get the first pair of the fixture's inputs, are warmed up (JAX compiles), then
timed over --repeats calls; the medians of wall time and of process CPU time
(``time.process_time``, all threads) are printed. Also printed: max |ONNX - JAX| and
max |ONNX - release| over the four outputs (the release's own outputs in io.npz).

  python -m benchmarks export V4_x4 V4_REF_x4 --repeats 20
  python -m benchmarks export --full-width V3 --lr-size 32x32
"""

import argparse
import pathlib
import tempfile

import jax
import numpy as np
import onnxruntime

from star_jax.export.forward import load_export_source, parse_lr_size, source_from_variables
from star_jax.export.onnx_export import export_onnx
from star_jax.export.sidecar import INPUT_NAMES
from star_jax.model import OUTPUT_NAMES, ModelConfig, build_model

from . import harness

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "parity"


def compare(label, source, inputs, release, repeats):
  with tempfile.TemporaryDirectory() as directory:
    _, convert_s, _ = harness.timed(lambda: export_onnx(source, directory))
    session = onnxruntime.InferenceSession(str(pathlib.Path(directory) / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
  feeds = dict(zip(INPUT_NAMES, inputs))
  jitted = jax.jit(source.forward)
  weights = [jax.numpy.asarray(w) for w in source.weights]
  run_jax = lambda: jax.block_until_ready(jitted(weights, *inputs))
  run_onnx = lambda: session.run(list(OUTPUT_NAMES), feeds)
  onnx_out, jax_out = run_onnx(), run_jax()
  vs_jax = max(float(np.max(np.abs(o - np.asarray(j)))) for o, j in zip(onnx_out, jax_out))
  vs_release = (max(float(np.max(np.abs(o - release[n]))) for o, n in zip(onnx_out, OUTPUT_NAMES))
                if release else float("nan"))
  jax_wall, jax_cpu = harness.median_seconds(run_jax, repeats)
  onnx_wall, onnx_cpu = harness.median_seconds(run_onnx, repeats)
  height, width = source.lr_size
  print(f"| {label} | {height}x{width} | {convert_s:.0f} | {jax_wall * 1e3:.1f} ({jax_cpu * 1e3:.1f}) "
        f"| {onnx_wall * 1e3:.1f} ({onnx_cpu * 1e3:.1f}) | {onnx_wall / jax_wall:.2f} "
        f"| {vs_jax:.1e} | {vs_release:.1e} |", flush=True)


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("models", nargs="*", help="parity fixture folders (V4_x4, ...)")
  parser.add_argument("--full-width", default=None, help="also a full-width VARIANT (4x)")
  parser.add_argument("--lr-size", default="32x32", help="LR size of the full-width model")
  parser.add_argument("--repeats", type=int, default=10)
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  print(f"jax {jax.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{len(jax.devices())} JAX device(s): {jax.devices()[0].device_kind}")
  print("| model | LR HxW | convert s | JAX ms/pair wall (cpu) | ORT ms/pair wall (cpu) "
        "| ORT/JAX wall | max abs ORT-JAX | max abs ORT-release |")
  print("|---|---|---|---|---|---|---|---|")
  for name in args.models:
    with np.load(FIXTURES / name / "io.npz") as io:
      nhwc = lambda key: np.ascontiguousarray(np.transpose(io[key][:1], (0, 2, 3, 1)))
      inputs = [nhwc(key) for key in INPUT_NAMES]
      release = {n: nhwc(f"eval_{n}") for n in OUTPUT_NAMES}
    source = load_export_source(FIXTURES / name / "model.pth.gz", inputs[0].shape[1:3], 1)
    compare(name, source, inputs, release, args.repeats)
  if args.full_width:
    height, width = parse_lr_size(args.lr_size)
    cfg = ModelConfig(variant=args.full_width)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(1, height, width, 3)).astype(np.float32) for _ in range(2)]
    inputs += [rng.uniform(-0.05, 0.05, size=(1, height, width, 2)).astype(np.float32)
               for _ in range(2)]
    variables = jax.jit(build_model(cfg).init)(jax.random.key(0), *inputs)
    source = source_from_variables(cfg, variables, (height, width), 1)
    compare(f"{args.full_width} full width (random)", source, inputs, None, args.repeats)
