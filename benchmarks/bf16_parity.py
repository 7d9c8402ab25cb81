"""Benchmark: bfloat16 vs float32 eval outputs on the release parity fixtures.

Not a test. For every folder of ``tests/fixtures/parity`` (or ``$STAR_JAX_SHARED/parity``)
the release weights are converted (``star_jax.weights.load_weights``) and the eval forward
runs on the fixture's inputs with ``model.dtype`` float32 and bfloat16; one JSON line per
fixture gives, per output, the max abs difference bfloat16 - float32, the max abs
difference float32 - release (the parity the tests assert), and the output's max abs value
(outputs are ImageNet-normalised; 1/255 of the 8-bit range is 0.0171 in these units for
the green channel, 0.0170 red, 0.0174 blue).

    python -m benchmarks bf16-parity
"""

import argparse

import jax
import numpy as np

from star_jax.weights import load_weights
from star_jax.model import OUTPUT_NAMES, build_model
from tests.conftest import shared_root  # the repository root is the working directory

from . import harness


def _nhwc(x):
  return np.transpose(np.asarray(x), (0, 2, 3, 1))


def parse_args(argv=None):
  return argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)


def main(argv=None):
  parse_args(argv)
  for folder in sorted((shared_root() / "parity").iterdir()):
    if not (folder / "io.npz").exists():
      continue
    cfg, variables = load_weights(folder / "model.pth.gz")
    with np.load(folder / "io.npz") as f:
      ref = {k: f[k] for k in f.files}
    inputs = [_nhwc(ref[k]) for k in ("im1", "im2", "flow_f", "flow_b")]
    outs = {}
    for dtype in ("float32", "bfloat16"):
      model = build_model(dict(cfg, dtype=dtype))
      outs[dtype] = jax.device_get(jax.jit(lambda v, *xs: model.apply(v, *xs))(variables, *inputs))
    row = {"fixture": folder.name, "variant": cfg["variant"], "scale": int(cfg["scale"]),
           "lr_hw": list(inputs[0].shape[1:3])}
    for name in OUTPUT_NAMES:
      bf, fp = outs["bfloat16"][name].astype(np.float64), outs["float32"][name].astype(np.float64)
      release = _nhwc(ref[f"eval_{name}"]).astype(np.float64)
      row[name] = {"bf16_vs_fp32": float(np.max(np.abs(bf - fp))),
                   "bf16_vs_fp32_rms": float(np.sqrt(np.mean((bf - fp) ** 2))),
                   "fp32_vs_release": float(np.max(np.abs(fp - release))),
                   "abs_max": float(np.max(np.abs(fp)))}
    harness.print_json(row)
