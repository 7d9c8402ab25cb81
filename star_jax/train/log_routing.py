"""Where a training run's log records go: every record to ``<workdir>/train.log``; the
console shows the run's own lines (config, progress, evaluations, checkpoints) and warnings,
or everything with ``--verbose`` (``star_jax.cli.train``'s flags).

Tracebacks that background threads print or log when something fails (orbax's async save,
TensorBoard's event writer, tensorstore's callbacks, a data worker) go to the log file, so
that a failure is the run's one ``error:`` line on the console; a log file that cannot be
written (a full disk) is one ``warning:`` line.
"""

import logging
import os
import pathlib
import sys
import threading

from absl import logging as absl_logging

LOG_FILE = "train.log"
# Console INFO records by the file that logged them: the run's own (star_jax's) lines only;
# clu's (its logging writer repeats every scalar the run's progress and evaluation lines
# already show, and dumps the hyperparameters and the parameter table), orbax's, jax's and
# the rest go to the log file. The deepest of these path markers in a record's path decides
# (so a clone or venv inside a folder named star_jax decides nothing).
_CONSOLE_INFO_SOURCES = ("/star_jax/",)
_HIDDEN_SOURCES = ("/clu/", "/orbax/", "/site-packages/", "/dist-packages/")
_CHECKPOINT_SOURCE = "/orbax/"
# WARNING records that are noise on a machine without an accelerator.
_QUIET_WARNINGS = ("Unable to initialize backend", "An NVIDIA GPU may be present")


class ConsoleFilter(logging.Filter):
  """Which log records the console shows (the log file gets all of them): the run's own
  INFO lines, and warnings and errors, except those that carry a
  traceback (orbax, TensorBoard, grain log them when a save or a worker fails; the run's own
  ``error:`` line says what failed) and the notices in ``_QUIET_WARNINGS``."""

  def __init__(self, checkpoint_logs: bool):
    super().__init__()
    self._sources = _CONSOLE_INFO_SOURCES + ((_CHECKPOINT_SOURCE,) if checkpoint_logs else ())
    self._markers = tuple(set(_CONSOLE_INFO_SOURCES + _HIDDEN_SOURCES))

  def filter(self, record: logging.LogRecord) -> bool:
    path = record.pathname.replace(os.sep, "/")
    if record.levelno >= logging.WARNING:
      if record.exc_info or "Traceback (most recent call last)" in record.getMessage():
        return False
      return not any(text in str(record.msg) for text in _QUIET_WARNINGS)
    return self._source(path) in self._sources

  def _source(self, path: str):
    """The marker found last in ``path`` (the longest at the same place), or None."""
    found = [(path.rfind(marker), len(marker), marker) for marker in self._markers
             if marker in path]
    return max(found)[2] if found else None


def route_logs(workdir: str, verbose: bool, checkpoint_logs: bool) -> pathlib.Path:
  """Every record to ``<workdir>/train.log``; the console (absl's handler) filtered by
  ``ConsoleFilter`` unless ``verbose``. Returns the log file's path."""
  path = pathlib.Path(workdir).absolute() / LOG_FILE
  path.parent.mkdir(parents=True, exist_ok=True)
  handler = LogFileHandler(path)
  handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(filename)s:%(lineno)d "
                                         "%(message)s"))
  logging.getLogger().addHandler(handler)
  if not verbose:
    absl_logging.get_absl_handler().addFilter(ConsoleFilter(checkpoint_logs))
    threading.excepthook = _log_thread_exception
    sys.excepthook = _log_background_exception(sys.excepthook)
    sys.stderr = BackgroundTracebackFilter(sys.stderr)
  return path


class BackgroundTracebackFilter:
  """``sys.stderr`` of a training run: a traceback that another thread prints straight to
  stderr goes to train.log (as a log record) instead of the console. tensorstore's callbacks
  print one per write still in flight when orbax closes the event loop of a failed save
  ("RuntimeError: Event loop is closed"), bypassing ``sys.excepthook``. Everything else
  (the main thread's output, log lines, progress bars) passes through unchanged.

  Nothing is logged or written while the lock is held: logging the traceback can itself
  write to stderr from this thread (train.log failing with "File too large" or "No space
  left" prints ``LogFileHandler``'s warning), and a second ``write`` waiting for a lock its
  own thread holds would hang the thread -- and the run's exit with it."""

  _HEADER = "Traceback (most recent call last):"

  def __init__(self, console):
    self._console = console
    self._blocks: dict = {}  # thread id -> the traceback text it is printing
    self._lock = threading.Lock()

  def write(self, text: str) -> int:
    if threading.current_thread() is threading.main_thread():
      return self._console.write(text)
    ident = threading.get_ident()
    with self._lock:
      block = self._blocks.pop(ident, None)
      if block is None and not text.startswith(self._HEADER):
        finished = None  # not part of a traceback: to the console, after the lock
      else:
        block = (block or "") + text
        last = block.rstrip("\n").rsplit("\n", 1)[-1]
        if block.endswith("\n") and last and not last[0].isspace() and last != self._HEADER:
          finished = block  # the exception's own line ends the traceback
        else:
          self._blocks[ident], finished = block, ""
    if finished is None:
      return self._console.write(text)
    if finished:
      logging.error("printed by thread %s:\n%s", threading.current_thread().name, finished)
    return len(text)

  def __getattr__(self, name):  # flush, fileno, isatty, encoding, ...: the console's
    return getattr(self._console, name)


class LogFileHandler(logging.FileHandler):
  """train.log. When it cannot be written (the disk the workdir is on is full), one
  ``warning:`` line says so on stderr and later records are dropped, instead of logging's
  traceback for every record."""

  def __init__(self, path):
    super().__init__(path)
    self.failed = False

  def emit(self, record: logging.LogRecord) -> None:
    if not self.failed:
      super().emit(record)

  def flush(self) -> None:
    try:
      super().flush()
    except OSError:
      self.handleError(None)

  def close(self) -> None:
    try:
      super().close()  # closing the file writes what is still buffered
    except OSError:
      self.handleError(None)

  def handleError(self, record: logging.LogRecord) -> None:
    if not self.failed:
      self.failed = True
      error = sys.exc_info()[1]
      print(f"warning: cannot write {self.baseFilename} ({type(error).__name__}: {error}); "
            "log records are dropped from here on", file=sys.stderr, flush=True)


def _log_thread_exception(args) -> None:
  """An exception that ends a background thread (TensorBoard's event writer, orbax's async
  save) goes to train.log, not to the console as a bare traceback; the run reports the
  failure it causes on one line."""
  if args.exc_type is SystemExit:
    return
  logging.error(
      "thread %s ended with an exception", getattr(args.thread, "name", "?"),
      exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def _log_background_exception(default_hook):
  """A ``sys.excepthook`` that sends exceptions printed from other threads (tensorstore's
  callbacks print orbax's failed-save errors this way) to train.log, and leaves the main
  thread's to ``default_hook``."""

  def hook(exc_type, exc_value, exc_traceback):
    if threading.current_thread() is threading.main_thread():
      default_hook(exc_type, exc_value, exc_traceback)
    else:
      logging.error("exception in thread %s", threading.current_thread().name,
                    exc_info=(exc_type, exc_value, exc_traceback))

  return hook
