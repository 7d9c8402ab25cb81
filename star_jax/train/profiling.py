"""``config.profile_steps``: a ``jax.profiler`` trace of chosen train steps.

The trace (XSpace ``*.xplane.pb`` for TensorBoard's profile tab / XProf, and a Perfetto
``*.trace.json.gz``) goes to ``<workdir>/profile/plugins/profile/<timestamp>/``; how to open
it is in the README ("Profiles").
"""

import logging
import pathlib
from typing import Any, Optional, Tuple

import jax

from star_jax.errors import UserInputError

PROFILE_DIR = "profile"  # <workdir>/profile


def parse_profile_steps(value) -> Optional[Tuple[int, int]]:
  """``config.profile_steps`` -> ``(first_step, num_steps)``, or None when profiling is off
  (None or an empty tuple). Raises UserInputError unless it is two integers, both >= 1."""
  if value is None or len(value) == 0:
    return None
  try:
    first, num = (int(v) for v in value)
  except (TypeError, ValueError):
    raise UserInputError(f"config.profile_steps must be (first_step, num_steps), got "
                         f"{value!r}") from None
  if first < 1 or num < 1:
    raise UserInputError(f"config.profile_steps must have first_step >= 1 and num_steps >= 1, "
                         f"got {tuple(value)!r}")
  return first, num


class StepProfiler:
  """Starts a trace before step ``first_step`` and stops it after step
  ``first_step + num_steps - 1``, blocking on the work on either side so that the trace holds
  exactly those steps' device work.

  ``start_step`` is the step the run resumes from (0 for a fresh run); a window that starts at
  or before it was already passed, so nothing is traced (logged once).
  """

  def __init__(self, profile_steps, workdir: pathlib.Path, start_step: int):
    self._window = parse_profile_steps(profile_steps)
    self.logdir = pathlib.Path(workdir) / PROFILE_DIR
    self._active = False
    if self._window and self._window[0] <= start_step:
      logging.info("profile_steps %s: step %d is already done (resumed at step %d); no trace",
                   self._window, self._window[0], start_step)
      self._window = None

  def before_step(self, step: int, pending: Any) -> None:
    """Call before running ``step``; ``pending`` is what the previous step returned."""
    if self._window and step == self._window[0]:
      jax.block_until_ready(pending)
      self.logdir.mkdir(parents=True, exist_ok=True)
      jax.profiler.start_trace(str(self.logdir))
      self._active = True
      logging.info("profiling steps %d-%d into %s", step, step + self._window[1] - 1,
                   self.logdir)

  def after_step(self, step: int, outputs: Any) -> None:
    """Call after dispatching ``step``; ``outputs`` is what it returned."""
    if self._active and step == self._window[0] + self._window[1] - 1:
      jax.block_until_ready(outputs)
      self.close()

  def close(self) -> None:
    """Stop a trace still running (the run ended inside the window, or failed)."""
    if self._active:
      jax.profiler.stop_trace()
      self._active = False
      logging.info("profile written to %s (open: tensorboard --logdir %s, Profile tab)",
                   self.logdir, self.logdir)
