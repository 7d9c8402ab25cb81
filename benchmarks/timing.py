"""Timing shared by the benchmark scripts: median wall and CPU seconds of a call."""

import statistics
import time


def median_seconds(run, repeats: int, warmups: int = 0):
  """(median wall s, median process CPU s) of ``run()`` over ``repeats`` calls after
  ``warmups`` untimed ones; ``run`` must block until its work is done (e.g.
  ``jax.block_until_ready``). CPU time counts every thread of the process."""
  for _ in range(warmups):
    run()
  walls, cpus = [], []
  for _ in range(repeats):
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
  return statistics.median(walls), statistics.median(cpus)
