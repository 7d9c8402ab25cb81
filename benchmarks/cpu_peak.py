"""Benchmark: this machine's dense float32 matmul peak FLOP/s with JAX (XLA:CPU).

Not a test. The MFU denominator for CPU runs (``--config.peak_flops_per_chip`` in training,
``--peak-flops`` of the ``step-mfu`` tool): XLA:CPU runs on every core of the machine as one
JAX device, so the "chip" is the whole CPU. For each size n it times ``a @ b`` on (n, n)
float32 matrices (2 n^3 FLOPs per product, XLA's own count is checked against it) and reports
the best and the median wall-clock rate of ``--repeats`` runs and the rate per CPU-second
(process CPU time of all threads). On a shared machine the wall-clock rate is only what the
job happened to get, and CPU time / wall time says how many cores it had (2.0 = both cores of
a 2-core machine); FLOPs per CPU-second do not depend on that load, so the peak reported is

  peak = (best FLOPs per CPU-second over the sizes) x number of cores,

the rate of all cores computing at once (an upper bound: XLA's threads also spend CPU time
waiting, which lowers the per-CPU-second rate of everything measured this way alike). The
best wall-clock rate is printed beside it.

    python -m benchmarks cpu-peak --sizes 1024,2048,4096 --repeats 10
"""

import argparse
import os
import platform
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from star_jax.train.compiled_stats import compiled_step_stats

from . import harness


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--sizes", default="1024,2048,4096",
                      help="comma-separated square matrix sides n")
  parser.add_argument("--repeats", type=int, default=10, help="timed products per size")
  args = parser.parse_args(argv)
  try:
    args.sizes = [int(v) for v in args.sizes.split(",") if v]
  except ValueError:
    parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
  if not args.sizes or min(args.sizes) < 1 or args.repeats < 1:
    parser.error("--sizes must be positive and --repeats at least 1")
  return args


def measure(n: int, repeats: int):
  """(FLOPs per product, wall seconds per run, CPU seconds per run) for an n x n matmul."""
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.standard_normal((n, n), np.float32))
  b = jnp.asarray(rng.standard_normal((n, n), np.float32))
  compiled = jax.jit(lambda x, y: x @ y).lower(a, b).compile()
  flops = compiled_step_stats(compiled)["flops"]
  if abs(flops - 2 * n**3) > 1e-6 * 2 * n**3:
    raise RuntimeError(f"XLA counts {flops} FLOPs for a {n}x{n} matmul, expected {2 * n**3}")
  walls, cpus = harness.run_seconds(lambda: compiled(a, b).block_until_ready(), repeats,
                                   warmups=1)
  return flops, walls, cpus


def main(argv=None):
  args = parse_args(argv)
  print(f"device {jax.devices()[0].device_kind} ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores), jax {jax.__version__}, load average "
        f"{os.getloadavg()[0]:.1f} at start")
  print(harness.markdown_header("n", "best GFLOP/s (wall)", "median GFLOP/s (wall)",
                                "GFLOP per CPU-second", "CPU s / wall s"))
  best_wall, best_per_cpu_second = 0.0, 0.0
  for n in args.sizes:
    flops, walls, cpus = measure(n, args.repeats)
    best, median = flops / min(walls), flops / statistics.median(walls)
    per_cpu_second = flops * len(cpus) / max(sum(cpus), 1e-9)
    best_wall = max(best_wall, best)
    best_per_cpu_second = max(best_per_cpu_second, per_cpu_second)
    print(harness.markdown_row(n, f"{best / 1e9:.1f}", f"{median / 1e9:.1f}",
                               f"{per_cpu_second / 1e9:.1f}", f"{sum(cpus) / sum(walls):.2f}"))
  cores = os.cpu_count()
  print(f"peak: {best_per_cpu_second * cores:.4g} FLOP/s = {best_per_cpu_second / 1e9:.1f} "
        f"GFLOP per CPU-second x {cores} cores (best wall-clock rate {best_wall:.4g} FLOP/s); "
        f"load average {os.getloadavg()[0]:.1f} at the end")
