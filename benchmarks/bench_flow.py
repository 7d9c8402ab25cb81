"""Throughput of the JAX coarse2fine flow (pairs/s), exact and fast solvers, any JAX device.

Usage: python benchmarks/bench_flow.py [--sizes 112x64 448x256] [--batch 1 8] [--repeats 3]

Frames are smooth random textures with a sub-pixel shift (the solver's cost does not depend
on content: every iteration count is fixed). Compilation is timed separately from the steady
state; the steady state is the median of ``--repeats`` runs. Reference point: pyflow on this
project's 2-core CPU takes 0.14 s (112x64) and 2.6 s (448x256) per pair.
"""

import argparse
import time

import jax
import numpy as np

from star_jax.flow import coarse2fine_flow


def _pair(width: int, height: int, batch: int):
  rng = np.random.default_rng(0)
  texture = np.cumsum(np.cumsum(rng.random((batch, height + 4, width + 4, 3)), 1), 2)
  texture = 0.5 + 0.4 * np.sin(texture / texture.max() * 30)
  return texture[:, 2:-2, 2:-2].astype(np.float32), texture[:, 1:-3, 3:-1].astype(np.float32)


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", nargs="+", default=["112x64", "448x256"], help="W x H")
  parser.add_argument("--batch", nargs="+", type=int, default=[1], help="pairs per call")
  parser.add_argument("--modes", nargs="+", default=["exact", "fast"])
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  device = jax.devices()[0]
  print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}")
  print("| size | mode | batch | compile s | s / call | pairs/s |")
  print("|---|---|---|---|---|---|")
  for size in args.sizes:
    width, height = (int(x) for x in size.split("x"))
    for mode in args.modes:
      for batch in args.batch:
        im1, im2 = _pair(width, height, batch)
        start = time.perf_counter()
        jax.block_until_ready(coarse2fine_flow(im1, im2, mode=mode))
        first = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
          start = time.perf_counter()
          jax.block_until_ready(coarse2fine_flow(im1, im2, mode=mode))
          times.append(time.perf_counter() - start)
        steady = float(np.median(times))
        print(f"| {size} | {mode} | {batch} | {first - steady:.1f} | {steady:.3f} | "
              f"{batch / steady:.2f} |", flush=True)


if __name__ == "__main__":
  main()
