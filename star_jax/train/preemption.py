"""Preemption: a SIGTERM (the notice GCE, GKE and SLURM send before they stop a job) or a
SIGINT (Ctrl-C) ends a training run at a step boundary with a checkpoint of that step.

The step in flight finishes; every process agrees on one step to save; the trainer saves the
train state, the grain iterator and the config there (``star_jax.train.checkpoints.save``),
waits for the async write to be final, and raises :class:`Preempted`, which
``star_jax.main`` turns into one console line (``preempted at step N: saved checkpoint N in
DIR ...``) and exit status 128 + the signal number: **143** for SIGTERM, **130** for SIGINT.
A restart resumes from that checkpoint.

Agreement on the step:

* one process (no ``jax.distributed``): a Python handler notes the signal; the step that
  is running when it arrives is the one saved;
* under ``jax.distributed``: JAX's preemption service (on by default,
  ``jax_enable_preemption_service``) catches SIGTERM in C++, tells every process, and picks
  the step after the largest step any process had reached;
  ``jax.experimental.multihost_utils.reached_preemption_sync_point(step)``, asked once
  after every step, is True on every process at that same step. A SIGINT is forwarded to
  the process itself as a SIGTERM so it takes the same path. (A SIGTERM handler in Python
  would replace JAX's C++ one, so none is installed there.)

A second SIGINT (Ctrl-C twice) raises ``KeyboardInterrupt`` at once: no save, status 130.
Signals that arrive before the training loop (data preparation, compilation of nothing yet
trained) keep Python's default behaviour.
"""

import os
import signal
import threading
import time
from typing import Optional, Tuple

from jax.experimental import multihost_utils

from star_jax.train import checkpoints

SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}


def exit_status(signum: int) -> int:
  """The status a run stopped by ``signum`` exits with: 128 + the signal number, what a
  shell reports for a process the signal ended (143 for SIGTERM, 130 for SIGINT)."""
  return 128 + int(signum)


class Preempted(BaseException):
  """The run stopped at a step boundary on a preemption notice, its state saved.

  A ``BaseException`` (like ``KeyboardInterrupt``): it is not an error, and ``except
  Exception`` clauses on the way to ``star_jax.main`` let it through.

  Attributes:
    step: the step the saved checkpoint holds.
    directory: the checkpoint manager's directory (``<workdir>/checkpoints``).
    signum: the signal this process received (SIGTERM when it only heard of another
      process's notice through JAX's preemption service).
    saved: False when the checkpoint of ``step`` existed already (nothing new to save).
    seconds: from ``since`` to the checkpoint being final on disk.
    since: "SIGTERM"/"SIGINT" (this process received it) or "the agreed step" (it heard of
      another process's notice).
  """

  def __init__(self, step: int, directory, signum: int, saved: bool, seconds: float,
               since: str):
    super().__init__(step)
    self.step, self.directory, self.signum = step, directory, signum
    self.saved, self.seconds, self.since = saved, seconds, since

  @property
  def exit_status(self) -> int:
    return exit_status(self.signum)

  def line(self) -> str:
    """The console line, e.g. ``preempted at step 12: saved checkpoint 12 in
    /w/checkpoints (2.1 s after SIGTERM); exit status 143, a restart resumes from it``."""
    reason = "interrupted" if self.signum == signal.SIGINT else "preempted"
    what = (f"saved checkpoint {self.step} in {self.directory}" if self.saved else
            f"checkpoint {self.step} in {self.directory} was already saved")
    return (f"{reason} at step {self.step}: {what} ({self.seconds:.1f} s after "
            f"{self.since}); exit status {self.exit_status}, a restart resumes from it")


def _preemption_service_running() -> bool:
  from jax._src import distributed  # pylint: disable=g-import-not-at-top (private: no public query)
  return (distributed.global_state.client is not None
          and distributed.global_state.preemption_sync_manager is not None)


class PreemptionGuard:
  """Watches for a preemption notice during the training loop (module docstring).

  :meth:`install` sets the signal handlers (on the main thread only; elsewhere none),
  :meth:`restore` puts the previous ones back. Call :meth:`reached` once per step, with the
  step the state holds (the same sequence on every process).
  """

  def __init__(self):
    self.signum: Optional[int] = None
    self.received_at: Optional[float] = None
    self._previous = {}
    self._distributed = False

  def install(self) -> None:
    self._distributed = _preemption_service_running()
    if threading.current_thread() is not threading.main_thread():
      return
    handled = (signal.SIGINT,) if self._distributed else (signal.SIGINT, signal.SIGTERM)
    for signum in handled:
      self._previous[signum] = signal.signal(signum, self._on_signal)

  def restore(self) -> None:
    for signum, previous in self._previous.items():
      signal.signal(signum, previous)
    self._previous = {}

  def _on_signal(self, signum, frame) -> None:
    del frame
    if self.signum == signal.SIGINT and signum == signal.SIGINT:
      raise KeyboardInterrupt  # Ctrl-C twice: stop now
    if self.signum is None:
      self.signum, self.received_at = signum, time.monotonic()
    if self._distributed and signum == signal.SIGINT:
      os.kill(os.getpid(), signal.SIGTERM)  # to JAX's preemption service, like a notice

  def reached(self, step: int) -> bool:
    """Whether the run should save ``step`` and stop: a signal has arrived (one process),
    or every process has reached the step JAX's preemption service agreed on."""
    if self._distributed:
      reached = multihost_utils.reached_preemption_sync_point(step)
      if reached and self.signum is None:
        self.signum = signal.SIGTERM  # another process's notice
      return reached
    return self.signum is not None

  def since(self, fallback_start: float) -> Tuple[float, str]:
    """(seconds, since what): since this process received its signal, or since
    ``fallback_start`` (``time.monotonic()`` at the agreed step) when it received none."""
    if self.received_at is None:
      return time.monotonic() - fallback_start, "the agreed step"
    return time.monotonic() - self.received_at, SIGNAL_NAMES.get(self.signum, str(self.signum))


def save_and_stop(guard: PreemptionGuard, manager, step: int, state, data_iter, config) -> None:
  """Saves ``step`` (state, grain iterator, config) unless its checkpoint exists, waits
  until every checkpoint write is final, and raises :class:`Preempted`.

  Raises:
    Preempted: always, once the checkpoint of ``step`` is on disk.
  """
  start = time.monotonic()
  saved = step not in manager.all_steps()
  if saved:
    checkpoints.save(manager, step, state, data_iter, config, force=True)
  manager.wait_until_finished()
  raise Preempted(step, manager.directory, guard.signum or signal.SIGTERM, saved,
                  *guard.since(start))
