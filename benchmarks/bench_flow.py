"""Throughput of the JAX coarse2fine flow (pairs/s), exact and fast solvers, any JAX device.

Usage: python -m benchmarks flow [--sizes 112x64 448x256] [--batch 1 8] [--repeats 3]

Frames are smooth random textures with a sub-pixel shift (the solver's cost does not depend
on content: every iteration count is fixed). Compilation is timed separately from the steady
state; the steady state is the median of ``--repeats`` runs. Reference point: pyflow on this
project's 2-core CPU takes 0.14 s (112x64) and 2.6 s (448x256) per pair.
"""

import argparse
import functools

import jax
import numpy as np

from star_jax.flow import coarse2fine_flow

from . import harness


def _pair(width: int, height: int, batch: int):
  rng = np.random.default_rng(0)
  texture = np.cumsum(np.cumsum(rng.random((batch, height + 4, width + 4, 3)), 1), 2)
  texture = 0.5 + 0.4 * np.sin(texture / texture.max() * 30)
  return texture[:, 2:-2, 2:-2].astype(np.float32), texture[:, 1:-3, 3:-1].astype(np.float32)


def _flow(im1, im2, mode):
  return jax.block_until_ready(coarse2fine_flow(im1, im2, mode=mode))


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", nargs="+", default=["112x64", "448x256"], help="W x H")
  parser.add_argument("--batch", nargs="+", type=int, default=[1], help="pairs per call")
  parser.add_argument("--modes", nargs="+", default=["exact", "fast"])
  parser.add_argument("--repeats", type=int, default=3)
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  device = jax.devices()[0]
  print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}")
  print(harness.markdown_header("size", "mode", "batch", "compile s", "s / call", "pairs/s"))
  for size in args.sizes:
    width, height = (int(x) for x in size.split("x"))
    for mode in args.modes:
      for batch in args.batch:
        im1, im2 = _pair(width, height, batch)
        call = functools.partial(_flow, im1, im2, mode)
        _, first, _ = harness.timed(call)
        steady, _ = harness.median_seconds(call, args.repeats)
        print(harness.markdown_row(size, mode, batch, f"{first - steady:.1f}", f"{steady:.3f}",
                                   f"{batch / steady:.2f}"), flush=True)
