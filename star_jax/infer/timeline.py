"""When each frame of a clip is shown: presentation times of the input, and those of the
output that every mode derives from them.

A :class:`Timeline` holds exact rational times in seconds, measured from the first frame
(frame 0 at time 0), and the clip's end (when the last frame stops being shown, i.e. the
clip's duration). Constant and variable frame rates are the same thing here: a video file's
times are its own packet timestamps, a frame folder's are ``k / fps``.

The output keeps the input's clock: every input frame keeps its time, the in-between
frames of ``time_factor`` f lie at ``t_i + j (t_{i+1} - t_i) / f`` for j = 1 .. f-1 (for
f = 2 exactly ``(t_i + t_{i+1}) / 2``; for f = 4 the recursive half-way steps of the
schedule, which are the quarters), and the end is kept, so the output lasts as long as the
input (and its audio).
"""

import fractions
import math
from typing import Sequence, Tuple

from star_jax.errors import UserInputError

Fraction = fractions.Fraction


def _gcd(values: Sequence[Fraction]) -> Fraction:
  """Largest rational g such that every value is an integer multiple of g (0 if all are 0)."""
  denominator = 1
  for value in values:
    denominator = denominator * value.denominator // math.gcd(denominator, value.denominator)
  numerator = 0
  for value in values:
    numerator = math.gcd(numerator, value.numerator * (denominator // value.denominator))
  return Fraction(numerator, denominator)


class Timeline:
  """Frame presentation times ``times`` (seconds, a strictly increasing tuple starting at 0)
  and ``end`` (seconds, > the last time: the clip's duration).

  Raises ``ValueError`` if the times do not start at 0, do not increase, or end is not after
  the last time.
  """

  def __init__(self, times: Sequence[Fraction], end: Fraction):
    self.times: Tuple[Fraction, ...] = tuple(Fraction(t) for t in times)
    self.end = Fraction(end)
    if not self.times or self.times[0] != 0:
      raise ValueError("a timeline starts at time 0")
    if any(b <= a for a, b in zip(self.times, self.times[1:])) or self.end <= self.times[-1]:
      raise ValueError("timeline times must increase and end after the last frame")

  @classmethod
  def constant_rate(cls, count: int, fps: Fraction) -> "Timeline":
    """``count`` frames at ``fps`` frames per second: times k / fps, end count / fps."""
    period = 1 / Fraction(fps)
    return cls([k * period for k in range(count)], count * period)

  def __len__(self) -> int:
    return len(self.times)

  def durations(self) -> Tuple[Fraction, ...]:
    """How long each frame is shown (seconds): the gap to the next one, or to the end."""
    return tuple(b - a for a, b in zip(self.times, self.times[1:] + (self.end,)))

  @property
  def frame_rate(self) -> Fraction:
    """Frames per second between the first and the last frame, ``(n - 1) / t_last`` (the
    rate of a constant-rate clip; the mean rate of a variable one); ``1 / end`` for a
    single frame."""
    if len(self.times) < 2:
      return 1 / self.end
    return (len(self.times) - 1) / self.times[-1]

  def is_constant_rate(self) -> bool:
    return len(set(self.durations()[:-1])) <= 1

  def tick(self) -> Fraction:
    """The coarsest clock (seconds per tick) on which every time and the end fall exactly:
    the time base that stores this timeline without rounding."""
    return _gcd(self.times[1:] + (self.end,))

  def subdivided(self, time_factor: int) -> "Timeline":
    """The output timeline of ``time_factor`` frames per input interval: each input time
    kept, ``time_factor - 1`` equally spaced times in between, the same end."""
    if time_factor < 1:
      raise ValueError(f"time factor must be >= 1, got {time_factor}")
    times = []
    for start, stop in zip(self.times, self.times[1:]):
      times.extend(start + j * (stop - start) / time_factor for j in range(time_factor))
    times.append(self.times[-1])
    return Timeline(times, self.end)


def output_timeline(source: Timeline, mode: str, time_factor: int) -> Timeline:
  """The times of the output frames of ``mode`` (see ``frame_schedule``): the input's own in
  ``space`` mode, subdivided by ``time_factor`` in ``space-time`` and ``time`` modes."""
  if mode == "space":
    return source
  if len(source) < 2:
    raise UserInputError(f"mode {mode} needs at least 2 frames, got {len(source)}", ("mode",))
  return source.subdivided(time_factor)
