"""Processes under ``jax.distributed``: start-up with the config's timeouts, a watch on the
other processes, and the C++ runtime's messages kept off the console.

A lost process (a host gone, a process killed) leaves the others waiting in a collective.
JAX's coordination service notices a missing heartbeat after ``heartbeat_timeout_seconds``
(100 s by default) and then ends every process from C++ with a fatal log and a stack dump.
Here, instead:

* every process writes a heartbeat into the coordination service's key-value store every
  ``timeout / 10`` seconds (at most 2 s) from a thread of its own (:class:`PeerWatch`), and
  reads everyone's; a process whose heartbeat has not moved for ``timeout`` seconds
  (``config.lost_process_timeout_seconds``), or a coordinator that has not answered for
  that long, is lost: the survivor prints one line, ``error: lost process 1 of 2 (no
  heartbeat for 30 s) ...``, and exits with status 1 (``EXIT_LOST``). A process that
  stops on an error of its own says so in the store, and the others stop at once naming it.
* JAX's own heartbeat timeout is set to twice that, so its C++ abort is only a backstop.
* the process's file descriptor 2, where C++ (XLA, the coordination service, gRPC) writes,
  goes to ``<workdir>/train.log``; Python's ``sys.stderr`` (the console lines, absl's log
  handler) keeps the console (:func:`route_native_stderr`).

The time from a loss to the survivors' exit is at most ``timeout`` plus one heartbeat
interval (measured in ``benchmarks/results/preemption.md``).

When process 0 (which hosts the coordination service) dies, jaxlib's client in every other
process notices within seconds and aborts from C++ (SIGABRT) before this watch can speak;
the one line then comes from the process's parent (:mod:`star_jax.train.supervisor`).
jaxlib's ``missed_heartbeat_callback`` would be the hook in-process, but
``jax.distributed.initialize`` does not pass it on, and a Python function given to the
client directly aborts with ``std::bad_cast`` (jaxlib 0.10.2 cannot convert the
``absl::Status`` argument).
"""

import logging
import os
import sys
import threading
import time
import traceback
from typing import Callable, Dict, Optional, TypeVar

from absl import logging as absl_logging
import jax

T = TypeVar("T")
EXIT_LOST = 1  # a failed run, by star_jax.cli's policy
_ALIVE = "star_jax/alive/"
_STOPPED = "star_jax/stopped/"


def route_native_stderr(log_path) -> None:
  """Points file descriptor 2 (what C++ code writes to) at ``log_path`` (appending) and
  keeps Python's ``sys.stderr`` and absl's console handler on the original stderr."""
  console = os.fdopen(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding,
                      errors=sys.stderr.errors)
  log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
  sys.stderr.flush()
  os.dup2(log_fd, 2)
  os.close(log_fd)
  sys.stderr = console
  absl_logging.get_absl_handler().python_handler.stream = console


def _report_lost(line: str) -> None:
  for handler in logging.getLogger().handlers:
    handler.flush()
  os.write(2, f"{line}\n".encode())  # train.log, after route_native_stderr
  print(line, file=sys.stderr, flush=True)
  os._exit(EXIT_LOST)  # pylint: disable=protected-access (the main thread is stuck in C++)


class PeerWatch:
  """Heartbeats through the coordination service and the check on everyone else's.

  Args:
    client: ``jax._src.distributed.global_state.client`` (a DistributedRuntimeClient).
    process_id, num_processes: this process and how many there are.
    timeout: seconds without a heartbeat (or without an answer from the coordinator)
      after which a process is lost.
    coordinator: the coordinator's address, for the message.
    on_lost: called once with the one-line message (default: print it, exit 1).
  """

  def __init__(self, client, process_id: int, num_processes: int, timeout: float,
               coordinator: str, on_lost: Callable[[str], None] = _report_lost):
    self._client, self._id, self._count = client, process_id, num_processes
    self._timeout, self._coordinator, self._on_lost = float(timeout), coordinator, on_lost
    self.interval = max(0.2, min(2.0, self._timeout / 10))
    self._beats: Dict[int, str] = {}
    self._changed: Dict[int, float] = {}
    self._stopped: Dict[int, str] = {}
    self._last_answer = time.monotonic()
    self._last_error: Optional[str] = None
    self._done = threading.Event()
    self._threads = [threading.Thread(target=self._beat_loop, name="star_jax-heartbeat",
                                      daemon=True),
                     threading.Thread(target=self._check_loop, name="star_jax-peer-check",
                                      daemon=True)]

  def start(self) -> "PeerWatch":
    start = time.monotonic()
    self._changed = {peer: start for peer in range(self._count) if peer != self._id}
    for thread in self._threads:
      thread.start()
    return self

  def stop(self, outcome: str) -> None:
    """Stops watching and tells the others how this process ends: ``"done"``,
    ``"preempted"`` (both let them finish) or an error (they stop too, naming it)."""
    self._done.set()
    try:
      self._client.key_value_set(f"{_STOPPED}{self._id}", outcome, allow_overwrite=True)
    except Exception:  # pylint: disable=broad-except (the coordinator may be gone)
      pass

  def _beat_loop(self) -> None:
    count = 0
    while not self._done.is_set():
      count += 1
      try:
        self._client.key_value_set(f"{_ALIVE}{self._id}", str(count), allow_overwrite=True)
        beats = dict(self._client.key_value_dir_get(_ALIVE))
        stopped = dict(self._client.key_value_dir_get(_STOPPED))
      except Exception as error:  # pylint: disable=broad-except (reported by _check_loop)
        self._last_error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
      else:
        now = time.monotonic()
        self._last_answer = now
        for key, value in beats.items():
          peer = int(key.rsplit("/", 1)[-1])
          if self._beats.get(peer) != value:
            self._beats[peer], self._changed[peer] = value, now
        self._stopped = {int(key.rsplit("/", 1)[-1]): value for key, value in stopped.items()}
      self._done.wait(self.interval)

  @property
  def timeout(self) -> float:
    return self._timeout

  @property
  def process_id(self) -> int:
    return self._id

  @property
  def num_processes(self) -> int:
    return self._count

  @property
  def coordinator(self) -> str:
    return self._coordinator

  def report(self, message: str) -> None:
    """Hands ``message`` (from :meth:`lost`) to ``on_lost`` (by default: print, exit 1)."""
    self._on_lost(message)

  def lost(self, count_stopped: bool = True) -> Optional[str]:
    """The message about a lost process, or None while everyone is alive. With
    ``count_stopped``, a process that stopped on an error of its own counts as lost."""
    now = time.monotonic()
    for peer, outcome in sorted(self._stopped.items()):
      if count_stopped and peer != self._id and outcome not in ("done", "preempted"):
        return (f"error: process {peer} of {self._count} stopped ({outcome}); stopping this "
                f"one (process {self._id}) too")
    if self._id != 0 and now - self._last_answer > self._timeout:
      return (f"error: lost process 0 of {self._count}, the jax.distributed coordinator at "
              f"{self._coordinator} (no answer for {now - self._last_answer:.0f} s"
              f"{': ' + self._last_error if self._last_error else ''}); stopping process "
              f"{self._id}")
    for peer, changed in sorted(self._changed.items()):
      if peer not in self._stopped and now - changed > self._timeout:
        return (f"error: lost process {peer} of {self._count} (no heartbeat for "
                f"{now - changed:.0f} s, lost_process_timeout_seconds={self._timeout:g}); "
                f"stopping process {self._id}")
    return None

  def _check_loop(self) -> None:
    while not self._done.wait(self.interval):
      message = self.lost()
      if message is not None and not self._done.is_set():
        self.report(message)
        return


def run_watched(watch: Optional[PeerWatch], action: Callable[[], T]) -> T:
  """``action()``; under a watch, a runtime error (a collective whose peer vanished fails
  with e.g. "Gloo all-reduce failed: Connection reset by peer") first waits up to the
  timeout and two heartbeat intervals for the watch to name a lost process, and ends the
  process with that line if it does (the error's traceback goes to file descriptor 2,
  ``train.log`` after :func:`route_native_stderr`). Other errors pass unchanged."""
  if watch is None:
    return action()
  try:
    return action()
  except jax.errors.JaxRuntimeError:
    os.write(2, traceback.format_exc().encode())
    deadline = time.monotonic() + watch.timeout + 2 * watch.interval
    while time.monotonic() < deadline:
      message = watch.lost(count_stopped=False)
      if message is not None:
        watch.report(message)
      time.sleep(watch.interval)
    raise


def finish(watch: Optional[PeerWatch], outcome: str, exit_code: Optional[int] = None) -> None:
  """Ends ``watch`` (None: not distributed, nothing to do) with ``outcome`` (``"done"``,
  ``"preempted"`` or what failed). With ``exit_code`` (a failed run) the process exits
  here, after giving the others two heartbeat intervals to read the outcome, without
  ``jax.distributed``'s shutdown barrier, which would wait for processes that are stopping
  because of this one."""
  if watch is None:
    return
  watch.stop(outcome)
  if exit_code is not None:
    time.sleep(2 * watch.interval)
    for handler in logging.getLogger().handlers:
      handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)  # pylint: disable=protected-access


def initialize(timeout_seconds: float, coordinator_address: Optional[str] = None,
               num_processes: Optional[int] = None,
               process_id: Optional[int] = None) -> PeerWatch:
  """``jax.distributed.initialize`` with JAX's heartbeat timeout at twice
  ``timeout_seconds`` (a backstop), then a started :class:`PeerWatch`.

  Args:
    timeout_seconds: ``config.lost_process_timeout_seconds``.
    coordinator_address, num_processes, process_id: as ``jax.distributed.initialize``
      (None: from the environment or the cluster).
  Returns:
    the running watch; call :func:`finish` when the run ends.
  """
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes, process_id=process_id,
                             heartbeat_timeout_seconds=int(max(2 * timeout_seconds, 10)))
  # pylint: disable-next=g-import-not-at-top (the client has no public accessor)
  from jax._src import distributed
  state = distributed.global_state
  return PeerWatch(state.client, state.process_id, state.num_processes,
                   max(timeout_seconds, 1),  # config_checks refuses < 1 once the run starts
                   state.coordinator_address).start()
