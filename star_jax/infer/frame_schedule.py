"""Which network outputs become which output frames, for each mode and time factor.

For input frames f0 .. f(n-1) and each consecutive pair (fi, fi+1), the model returns
h1 (fi at ``scale x``), h2 (fi+1 at ``scale x``), ht (the frame half-way between, at
``scale x``) and l (the half-way frame at the input size).

* ``space-time`` (STAR / STAR-ST): h1(fi), [in-between ht frames], ..., and for the last
  frame h2 of the last pair -> ``time_factor * (n - 1) + 1`` frames at ``scale x`` size.
  Every frame except the last is taken as h1 of the pair in which it comes first (the
  model sees it with its successor); only the last frame has no successor, so it is h2.
* ``space`` (STAR-S): the same h1/h2 frames without in-betweens -> n frames.
* ``time`` (STAR-T-HR, time super-resolution at the input size): the input frames unchanged
  and l frames in between -> ``time_factor * (n - 1) + 1`` frames at the input size.

A time factor of 4 (or any power of two) applies the half-way step recursively: the
half-way frame at the input size, l (clamped to [0, 1], kept in float), becomes an input of
the pairs (fi, l) and (l, fi+1), whose half-way frames are the quarter frames; the output
frame at each in-between time is ht (space-time) or l (time) of the pair centred on it.

Frames are consumed and produced in chunks of ``pairs_per_step`` pairs, so memory does not
depend on the length of the video. Reading (decoding) the frames of a chunk, checking them
and preparing its pairs (flows, padding: ``PairEngine.prepare``) run ``prefetch`` chunks
ahead in a background thread (``star_jax.infer.prefetch``) while the network runs on the
current chunk; deeper levels of a time factor of 4 need the first level's outputs, so they
are prepared in turn.
"""

import math
from typing import Dict, Iterable, Iterator, List, Sequence, Tuple

import numpy as np

from star_jax.pixels import to_float, to_uint8
from star_jax.infer.engine import PairEngine, PreparedPairs
from star_jax.errors import UserInputError
from star_jax.infer.prefetch import prefetched

MODES = ("space-time", "space", "time")
DEFAULT_PREFETCH = 2  # chunks read and prepared ahead of the network


def check_mode(mode: str, time_factor: int) -> int:
  """Validates the combination; returns the number of half-way levels (log2 time factor)."""
  if mode not in MODES:
    raise UserInputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}", ("mode",))
  if mode == "space":
    if time_factor != 1:
      raise UserInputError(f"mode space keeps the frame rate; time_factor must be 1, "
                           f"got {time_factor}", ("mode", "time_factor"))
    return 0
  levels = int(round(math.log2(time_factor))) if time_factor >= 2 else 0
  if time_factor < 2 or 2 ** levels != time_factor:
    raise UserInputError(f"time_factor for mode {mode} must be a power of two >= 2 "
                         f"(2 or 4), got {time_factor}", ("time_factor", "mode"))
  return levels


def output_frame_count(mode: str, time_factor: int, input_frames: int) -> int:
  if mode == "space":
    return input_frames
  return time_factor * (input_frames - 1) + 1


def output_size_factor(mode: str, scale: int) -> int:
  """Output side / input side."""
  return 1 if mode == "time" else scale


def _in_between(engine: PairEngine, pairs: Sequence[Tuple[np.ndarray, np.ndarray]],
                prepared: PreparedPairs, levels: int, frame_name: str,
                extra_names: Sequence[str]
                ) -> Tuple[List[List[np.ndarray]], List[Dict[str, np.ndarray]]]:
  """For each pair, the ``2**levels - 1`` in-between output frames (float [0, 1], time
  order), and the first level's outputs ``extra_names`` of each original pair;
  ``prepared`` is ``engine.prepare(pairs)``."""
  sequences = [[(a, None), (b, None)] for a, b in pairs]  # (input-size frame, output frame)
  first_level = []
  for level in range(levels):
    names = [frame_name]
    if level + 1 < levels and frame_name != "l":
      names.append("l")  # the half-way frame at the input size, input to the next level
    if level == 0:
      names += [name for name in extra_names if name not in names]
    jobs = [(s, j) for s, sequence in enumerate(sequences) for j in range(len(sequence) - 1)]
    if level == 0:  # the jobs are the original pairs
      results = engine.run_prepared(prepared, names)
    else:
      results = engine.run([(sequences[s][j][0], sequences[s][j + 1][0]) for s, j in jobs],
                           names)
    if level == 0:
      first_level = results
    refined = [[sequence[0]] for sequence in sequences]
    for (s, j), result in zip(jobs, results):
      refined[s].append((result.get("l"),
                         result[frame_name]))
      refined[s].append(sequences[s][j + 1])
    sequences = refined
  return [[output for _, output in sequence[1:-1]] for sequence in sequences], first_level


def _chunk_outputs(engine: PairEngine, frames: List[np.ndarray],
                   pairs: List[Tuple[np.ndarray, np.ndarray]], prepared: PreparedPairs,
                   mode: str, levels: int, is_last: bool) -> Iterator[np.ndarray]:
  """Output frames (uint8) for ``pairs`` (the consecutive float pairs of ``frames``, uint8,
  already through ``engine.prepare``), the last frame's own output only when ``is_last``
  (otherwise it opens the next chunk)."""
  if mode == "space":
    results = engine.run_prepared(prepared, ("h1", "h2") if is_last else ("h1",),
                                  as_uint8=True)
    for result in results:
      yield result["h1"]
    if is_last:
      yield results[-1]["h2"]
    return
  if mode == "space-time":
    extras = ("h1", "h2") if is_last else ("h1",)
    between, first_level = _in_between(engine, pairs, prepared, levels, "ht", extras)
    for index, result in enumerate(first_level):
      yield to_uint8(result["h1"])
      for frame in between[index]:
        yield to_uint8(frame)
    if is_last:
      yield to_uint8(first_level[-1]["h2"])
    return
  between, _ = _in_between(engine, pairs, prepared, levels, "l", ())
  for index in range(len(pairs)):
    yield frames[index]
    for frame in between[index]:
      yield to_uint8(frame)
  if is_last:
    yield frames[-1]


def _prepared_chunks(engine: PairEngine, frames: Iterable[np.ndarray], source_name: str,
                     pairs_per_step: int):
  """(chunk frames, their float pairs, the pairs prepared, is last) for consecutive chunks
  of ``pairs_per_step`` pairs (neighbouring chunks share a frame); checks as
  :func:`generate_output_frames` documents."""
  iterator = iter(frames)
  first = next(iterator, None)
  if first is None:
    raise UserInputError(f"{source_name} contains no frames")
  shape = first.shape
  chunk = [first]
  while True:
    while len(chunk) < pairs_per_step + 1:
      frame = next(iterator, None)
      if frame is None:
        break
      chunk.append(frame)
    ahead = next(iterator, None)
    for frame in chunk[1:] + ([ahead] if ahead is not None else []):
      if frame.shape != shape:
        raise UserInputError(f"{source_name}: frame size changes from {shape[1]}x{shape[0]} "
                             f"to {frame.shape[1]}x{frame.shape[0]}")
    if len(chunk) < 2:
      raise UserInputError(f"{source_name} has only 1 frame; at least 2 are needed")
    inputs = [to_float(frame) for frame in chunk]
    pairs = list(zip(inputs[:-1], inputs[1:]))
    yield chunk, pairs, engine.prepare(pairs), ahead is None
    if ahead is None:
      return
    chunk = [chunk[-1], ahead]


def generate_output_frames(engine: PairEngine, frames: Iterable[np.ndarray], mode: str,
                           time_factor: int, source_name: str, pairs_per_step: int = 1,
                           prefetch: int = DEFAULT_PREFETCH) -> Iterator[np.ndarray]:
  """Streams the output frames (uint8 RGB) of ``frames`` (uint8 RGB, all one size).

  ``prefetch``: chunks of ``pairs_per_step`` pairs read and prepared (flows) ahead in a
  background thread; 0 does everything in the calling thread. The output is the same.

  Raises ``UserInputError`` naming ``source_name`` when there are fewer than two frames or
  when a frame's size differs from the first one's; errors of the frame iterator or of the
  flow (in the prefetch thread) are raised here unchanged.
  """
  levels = check_mode(mode, time_factor)
  if prefetch < 0:
    raise ValueError(f"prefetch must be >= 0 chunks, got {prefetch}")
  chunks = _prepared_chunks(engine, frames, source_name, pairs_per_step)
  if prefetch:
    chunks = prefetched(chunks, prefetch, name="star_jax-infer-prefetch")
  try:
    for chunk, pairs, prepared, is_last in chunks:
      yield from _chunk_outputs(engine, chunk, pairs, prepared, mode, levels, is_last)
  finally:
    chunks.close()  # stops and joins the prefetch thread when the consumer stops early
