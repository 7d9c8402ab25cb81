"""What the benchmark tools share: the timer, the synthetic training batch, table and JSON
output.

Timing: :func:`timed` is one call's wall seconds (``time.perf_counter``) and process CPU
seconds (``time.process_time``: every thread of this process); :func:`run_seconds` repeats
it after untimed warm-ups, :func:`median_seconds` takes the medians. A timed ``run`` must
block until its work is done (``jax.block_until_ready``, ``torch.cuda.synchronize``).
:func:`back_to_back_seconds` is the accelerator form: steps dispatched without waiting,
one wait at the end.

Imports only the standard library, NumPy and ``star_jax.pixels`` (NumPy and JAX), so that
``accelerator_suite`` can use it on a machine with nothing else.
"""

import json
import statistics
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from star_jax import pixels


def timed(run: Callable[[], Any]) -> Tuple[Any, float, float]:
  """(``run()``'s result, wall seconds, process CPU seconds) of one call."""
  wall, cpu = time.perf_counter(), time.process_time()
  result = run()
  return result, time.perf_counter() - wall, time.process_time() - cpu


def run_seconds(run: Callable[[], Any], repeats: int,
                warmups: int = 0) -> Tuple[List[float], List[float]]:
  """(wall seconds, CPU seconds) of each of ``repeats`` calls of ``run()``, after
  ``warmups`` untimed ones."""
  for _ in range(warmups):
    run()
  walls, cpus = [], []
  for _ in range(repeats):
    _, wall, cpu = timed(run)
    walls.append(wall)
    cpus.append(cpu)
  return walls, cpus


def median_seconds(run: Callable[[], Any], repeats: int,
                   warmups: int = 0) -> Tuple[float, float]:
  """(median wall s, median process CPU s) of ``run()`` over ``repeats`` calls after
  ``warmups`` untimed ones."""
  walls, cpus = run_seconds(run, repeats, warmups)
  return statistics.median(walls), statistics.median(cpus)


def back_to_back_seconds(run_step: Callable[[], Any], steps: int,
                         finish: Callable[[Any], None] = lambda _: None) -> float:
  """Mean wall seconds per call of ``run_step`` over ``steps`` calls dispatched back to
  back, ``finish`` (which must block until the work is done) applied to the last result:
  an accelerator's steady rate, its queue kept full."""
  started = time.perf_counter()
  for _ in range(steps):
    result = run_step()
  finish(result)
  return (time.perf_counter() - started) / steps


def train_batch(batch: int, height: int, width: int, scale: int, seed: int = 0,
                flow_targets: bool = True) -> Dict[str, np.ndarray]:
  """A synthetic training batch with the input pipeline's keys (``star_jax.data.pipeline``),
  NHWC float32: ImageNet-normalised uniform random images -- inputs ``im1``, ``im2`` and
  target ``lr_t`` at LR ``(height, width)``, targets ``hr1``, ``hr_t``, ``hr2`` at ``scale``
  times that -- and flows uniform in [-0.1, 0.1) (the network's convention: ``flow_f``,
  ``flow_b`` and, with ``flow_targets``, the FR targets ``gt_flow_f``, ``gt_flow_b``).
  The same arguments give the same arrays. ``jax.eval_shape(lambda: train_batch(...))``
  gives its shapes."""
  rng = np.random.default_rng(seed)
  image = lambda h, w: pixels.normalize(rng.random((batch, h, w, 3), np.float32))
  flow = lambda: rng.uniform(-0.1, 0.1, (batch, height, width, 2)).astype(np.float32)
  data = {"im1": image(height, width), "im2": image(height, width), "flow_f": flow(),
          "flow_b": flow(), "lr_t": image(height, width)}
  data.update({k: image(scale * height, scale * width) for k in ("hr1", "hr_t", "hr2")})
  if flow_targets:
    data.update(gt_flow_f=flow(), gt_flow_b=flow())
  return data


def markdown_row(*cells) -> str:
  """``| a | b |``."""
  return "| " + " | ".join(str(cell) for cell in cells) + " |"


def markdown_header(*columns) -> str:
  """A markdown table's header row and its ``|---|`` line."""
  return markdown_row(*columns) + "\n|" + "---|" * len(columns)


def aligned_markdown_table(header: Sequence, rows: Sequence[Sequence]) -> str:
  """A markdown table with every column padded to its widest cell."""
  widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
  line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
  return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                    *map(line, rows)])


def print_json(record, **dumps_options) -> None:
  """``record`` as JSON on stdout, flushed (one line unless ``indent`` is given)."""
  print(json.dumps(record, **dumps_options), flush=True)
