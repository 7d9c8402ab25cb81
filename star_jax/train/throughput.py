"""Training throughput: steps/s, samples/s, achieved TFLOP/s, MFU and ETA.

Definitions (``F`` = XLA's FLOP count of one compiled train step on one device,
``star_jax.train.compiled_stats``; ``N`` = number of devices; ``r`` = measured steps/s):

  achieved FLOP/s = F * N * r            (the whole mesh; counted once, at compile time)
  MFU             = achieved / (peak per chip * N) = F * r / peak per chip

F is the FLOP count of the program XLA runs, backward pass and optimizer included (any
recomputation a remat policy adds is counted too, so this is the hardware's utilisation, not
a 6*params*tokens-style model estimate). Rates exclude compilation (done ahead of the loop)
and the first step (its execution warms allocators and caches); time the caller spends in
evaluation or checkpointing is excluded through :meth:`ThroughputMeter.exclude`. The ETA
counts the remaining train steps only, at the steady rate since the first step.
"""

import dataclasses
import time
from typing import Callable, Optional, Tuple

from star_jax.errors import UserInputError
from star_jax.train import chip_peaks


def achieved_flops_per_sec(flops_per_step_per_device: float, num_devices: int,
                           steps_per_sec: float) -> float:
  """FLOP/s the whole mesh executes: per-device FLOPs of a step x devices x steps/s."""
  return flops_per_step_per_device * num_devices * steps_per_sec


def model_flops_utilisation(achieved: float, peak_per_chip: float, num_devices: int) -> float:
  """MFU as a fraction in [0, 1] (more only if the peak is wrong): achieved FLOP/s over
  ``peak_per_chip * num_devices``."""
  return achieved / (peak_per_chip * num_devices)


def resolve_peak(device_kind: str, compute_dtype: str,
                 override: Optional[float]) -> Tuple[Optional[float], str]:
  """The per-chip peak FLOP/s MFU is measured against, and one line saying where it comes
  from (or why there is none). ``override`` (``config.peak_flops_per_chip``, FLOP/s) wins
  over the table in :mod:`star_jax.train.chip_peaks`. Raises ValueError for a peak <= 0."""
  if override is not None:
    if not override > 0:
      raise UserInputError(f"config.peak_flops_per_chip must be > 0 FLOP/s, got {override!r}")
    return float(override), (f"MFU against config.peak_flops_per_chip = "
                             f"{override / 1e12:.4g} TFLOP/s per chip")
  peak = chip_peaks.peak_flops_per_chip(device_kind, compute_dtype)
  if peak is None:
    return None, (f"no MFU: unknown device kind {device_kind!r} (no {compute_dtype} peak in "
                  f"star_jax.train.chip_peaks); set config.peak_flops_per_chip (FLOP/s) to get one")
  return peak, (f"MFU against the dense {compute_dtype} peak of {device_kind!r}: "
                f"{peak / 1e12:.4g} TFLOP/s per chip")


@dataclasses.dataclass(frozen=True)
class Rates:
  """One report: rates over the window since the previous report (``mfu`` None without a
  peak); ``eta_seconds`` from the steady rate since the first step."""
  steps_per_sec: float
  samples_per_sec: float
  tflops_per_sec: float
  mfu: Optional[float]
  eta_seconds: float

  def scalars(self) -> dict:
    """TensorBoard scalars (names under ``perf/``; MFU as a fraction)."""
    out = {"steps_per_sec": self.steps_per_sec, "perf/samples_per_sec": self.samples_per_sec,
           "perf/tflops_per_sec": self.tflops_per_sec, "perf/eta_seconds": self.eta_seconds}
    if self.mfu is not None:
      out["perf/mfu"] = self.mfu
    return out


def format_seconds(seconds: float) -> str:
  """12345.6 -> '3h25m46s'; 59.2 -> '59s'."""
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m{secs:02d}s"
  if minutes:
    return f"{minutes}m{secs:02d}s"
  return f"{secs}s"


class ThroughputMeter:
  """Rates over report windows, leaving out compilation, the first step, and any time passed
  to :meth:`exclude`.

  Call :meth:`first_step_done` once the first step of this run has *finished* (block on its
  outputs), then :meth:`report` at a later step whose outputs have finished (e.g. after
  fetching its metrics). Steps up to and including the first are never timed.
  """

  def __init__(self, *, flops_per_step_per_device: float, num_devices: int, batch_size: int,
               total_steps: int, peak_flops_per_chip: Optional[float],
               clock: Callable[[], float] = time.perf_counter):
    self._flops = flops_per_step_per_device
    self._num_devices = num_devices
    self._batch_size = batch_size
    self._total_steps = total_steps
    self._peak = peak_flops_per_chip
    self._clock = clock
    self._start: Optional[Tuple[int, float]] = None   # (step, time) after the first step
    self._window: Optional[Tuple[int, float]] = None
    self._excluded_total = 0.0
    self._excluded_window = 0.0

  def first_step_done(self, step: int) -> None:
    """The first step (``step``) has finished: start the clocks."""
    now = self._clock()
    self._start = self._window = (step, now)
    self._excluded_total = self._excluded_window = 0.0

  def exclude(self, seconds: float) -> None:
    """Leave ``seconds`` (spent outside training steps: eval, checkpointing) out of the rates."""
    if self._start is not None:
      self._excluded_total += seconds
      self._excluded_window += seconds

  def report(self, step: int) -> Optional[Rates]:
    """Rates over the window ending at ``step`` (whose outputs have finished), or None when
    no step after the first has been timed yet. Starts a new window."""
    if self._start is None or step <= self._window[0]:
      return None
    now = self._clock()
    window_steps = step - self._window[0]
    elapsed = max(now - self._window[1] - self._excluded_window, 1e-9)
    total_steps = step - self._start[0]
    total_elapsed = max(now - self._start[1] - self._excluded_total, 1e-9)
    self._window, self._excluded_window = (step, now), 0.0
    steps_per_sec = window_steps / elapsed
    achieved = achieved_flops_per_sec(self._flops, self._num_devices, steps_per_sec)
    mfu = (None if self._peak is None
           else model_flops_utilisation(achieved, self._peak, self._num_devices))
    steady_rate = total_steps / total_elapsed
    return Rates(steps_per_sec=steps_per_sec, samples_per_sec=steps_per_sec * self._batch_size,
                 tflops_per_sec=achieved / 1e12, mfu=mfu,
                 eta_seconds=max(self._total_steps - step, 0) / steady_rate)


def format_rates(step: int, total_steps: int, rates: Optional[Rates],
                 loss: Optional[float] = None) -> str:
  """One console line at ``step``: the training loss (when given) and the :class:`Rates`
  report (None before the first one: the loss alone)."""
  parts = [] if loss is None else [f"loss {loss:.4g}"]
  if rates is not None:
    mfu = "" if rates.mfu is None else f", MFU {100 * rates.mfu:.2f}%"
    parts.append(f"{rates.steps_per_sec:.3g} steps/s, {rates.samples_per_sec:.3g} samples/s, "
                 f"{rates.tflops_per_sec:.4g} TFLOP/s{mfu}, ETA "
                 f"{format_seconds(rates.eta_seconds)} (train steps; compile and step 1 "
                 "excluded)")
  return f"step {step}/{total_steps}: " + ", ".join(parts)
