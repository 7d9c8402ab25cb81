"""``python -m star_jax.main`` end to end: completion, exact resume after SIGKILL, a diverging
run stopping cleanly, and two local processes under jax.distributed."""

import logging
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.train.conftest import REPO, command_env, main_command, run_main
from tests.conftest import fake_device_flags


def _final_params(workdir, step):
  path = pathlib.Path(workdir) / "checkpoints" / str(step) / "state"
  with ocp.StandardCheckpointer() as ckptr:
    state = ckptr.restore(path)
  return state["params"]


def _flat(tree, prefix=""):
  if isinstance(tree, dict):
    for k, v in tree.items():
      yield from _flat(v, f"{prefix}/{k}")
  else:
    yield prefix, np.asarray(tree)


@pytest.mark.slow
def test_sigkill_and_resume_is_bitwise_identical(tiny_dataset, tmp_path):
  steps = ("--config.total_steps=6", "--config.checkpoint_every_steps=2")
  straight = run_main(tmp_path / "straight", tiny_dataset, *steps)
  assert straight.returncode == 0, straight.stderr[-3000:]
  assert "done: step 6" in straight.stdout
  assert "saving checkpoint 6" in straight.stderr
  assert "async_checkpointer.py" not in straight.stderr, (
      "orbax's INFO lines should be hidden without --checkpoint_logs")

  workdir = tmp_path / "killed"
  proc = subprocess.Popen(main_command(workdir, tiny_dataset, *steps), cwd=REPO,
                          env=command_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 900
  while not (workdir / "checkpoints" / "2" / "state").is_dir():  # finalised, not *.tmp
    assert proc.poll() is None and time.time() < deadline, "run ended before checkpoint 2"
    time.sleep(0.2)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  finished = sorted(p.name for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
  assert "6" not in finished, "the kill came too late to test a resume"

  resumed = run_main(workdir, tiny_dataset, *steps)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "resumed from" in resumed.stderr
  a = dict(_flat(_final_params(tmp_path / "straight", 6)))
  b = dict(_flat(_final_params(workdir, 6)))
  assert a.keys() == b.keys()
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tiny_dataset, tmp_path):
  result = run_main(tmp_path / "nan", tiny_dataset, "--config.total_steps=8",
                    "--config.checkpoint_every_steps=1", "--config.optimizer.learning_rate=1e12")
  assert result.returncode == 1
  assert "loss became" in result.stderr and "intact" in result.stderr
  assert re.search(r"on the batch of clips \d{5}/\d{4}, \d{5}/\d{4}, ", result.stderr)
  saved = sorted(int(p.name) for p in (tmp_path / "nan" / "checkpoints").iterdir()
                 if p.name.isdigit())
  assert saved and max(saved) < 8
  for _, value in _flat(_final_params(tmp_path / "nan", max(saved))):
    assert np.all(np.isfinite(value))


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_with_two_devices_each(tiny_dataset, tmp_path):
  port = _free_port()
  workdir = tmp_path / "multi"
  procs = []
  for process_id in range(2):
    env = command_env(XLA_FLAGS=fake_device_flags(2),
               JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
               JAX_PROCESS_ID=str(process_id))
    procs.append(subprocess.Popen(
        main_command(workdir, tiny_dataset, "--config.total_steps=3",
                     "--config.checkpoint_every_steps=3", "--config.mesh_shape=(2,2)"),
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  outputs = [p.communicate(timeout=900) for p in procs]
  for p, (out, err) in zip(procs, outputs):
    assert p.returncode == 0, err[-3000:]
    assert "done: step 3" in out
  assert "process 0/2, 2 local / 4 global devices" in outputs[0][1]
  assert (workdir / "checkpoints" / "3" / "state").is_dir()


def test_compiled_step_stats_rates_mfu_and_profile(tiny_dataset, tmp_path):
  result = run_main(tmp_path / "perf", tiny_dataset, "--config.total_steps=3",
                    "--config.checkpoint_every_steps=3", "--config.profile_steps=(2,1)",
                    "--config.peak_flops_per_chip=1e11")
  assert result.returncode == 0, result.stderr[-3000:]
  log = result.stderr
  assert "compiled train step in" in log and "GFLOP per step per device" in log
  assert "peak memory" in log
  assert "MFU against config.peak_flops_per_chip = 0.1 TFLOP/s per chip (1 device)" in log
  first = next(l for l in log.splitlines() if "step 1/3:" in l)
  assert "loss" in first and "steps/s" not in first  # the first step is never timed
  for step in (2, 3):
    line = next(l for l in log.splitlines() if f"step {step}/3:" in l)
    assert "samples/s" in line and "TFLOP/s" in line and "MFU" in line and "ETA" in line
  runs = list((tmp_path / "perf" / "profile" / "plugins" / "profile").iterdir())
  assert len(runs) == 1 and any(p.name.endswith(".xplane.pb") for p in runs[0].iterdir())


def test_console_filter_keeps_the_runs_lines_and_warnings_only():
  from star_jax.train.log_routing import ConsoleFilter  # pylint: disable=g-import-not-at-top
  def record(path, level, msg):
    return logging.LogRecord("absl", level, path, 1, msg, None, None)
  quiet, with_orbax = ConsoleFilter(False), ConsoleFilter(True)
  own = record("/x/star_jax/train/trainer.py", logging.INFO, "training V4")
  table = record("/x/clu/parameter_overview.py", logging.INFO, "| Name | Shape |")
  hparams = record("/x/clu/metric_writers/logging_writer.py", logging.INFO, "[Hyperparameters] {}")
  eta = record("/x/clu/platform/local.py", logging.INFO, "Setting work unit notes: ETA")
  orbax = record("/x/orbax/checkpoint/async_checkpointer.py", logging.INFO, "saved")
  tpu = record("/x/jax/_src/xla_bridge.py", logging.WARNING, "Unable to initialize backend 'tpu'")
  warning = record("/x/grain/foo.py", logging.WARNING, "something is off")
  scalars = record("/x/clu/metric_writers/logging_writer.py", logging.INFO,
                   "[5] loss/total=0.04, steps_per_sec=0.5")  # the progress line's numbers
  assert [quiet.filter(r) for r in (own, table, hparams, eta, scalars, orbax, tpu, warning)] == [
      True, False, False, False, False, False, False, True]
  assert with_orbax.filter(orbax)
  # A record with a traceback (orbax's failed save, a thread's exception) is train.log's only.
  try:
    raise OSError(28, "No space left on device")
  except OSError:
    failed = logging.LogRecord("absl", logging.ERROR, "/x/orbax/checkpoint/async.py", 1,
                               "save failed", None, sys.exc_info())
  assert not quiet.filter(failed) and not with_orbax.filter(failed)
  assert not quiet.filter(record("/x/tensorboard/writer.py", logging.ERROR,
                                 "Traceback (most recent call last):\n  ..."))
  # A clone (and its venv) inside a folder named star_jax: the deepest marker decides.
  cloned = "/tmp/star_jax/.venv/lib/python3.11/site-packages"
  assert not quiet.filter(record(f"{cloned}/orbax/checkpoint/async_checkpointer.py",
                                 logging.INFO, "saved"))
  assert not quiet.filter(record(f"{cloned}/jax/_src/compiler.py", logging.INFO, "compiling"))
  assert quiet.filter(record("/tmp/star_jax/star_jax/train/trainer.py", logging.INFO, "step 1"))
  assert not quiet.filter(record(f"{cloned}/clu/platform/local.py", logging.INFO, "ETA"))


def test_bad_flags_and_config_are_one_line_exit_2(tmp_path):
  """star_jax.cli's policy: an unknown config field (with the closest known name), a missing
  required flag and an unset data directory each end in one error: line and exit status 2,
  with no traceback (more cases in test_main_flags.py)."""
  for overrides, phrase in (
      (["--config.totl_steps=5"],
       "error: unknown config field 'totl_steps' (did you mean 'total_steps'?)"),
      (["--config.data.dir="], "config.data.dir is not set")):
    result = run_main(tmp_path / "bad", tmp_path / "data", *overrides, timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert lines[-1].startswith("error: ") and phrase in lines[-1], result.stderr[-3000:]
    assert "Traceback" not in result.stderr
  missing = subprocess.run([sys.executable, "-m", "star_jax.main", "--config=configs/demo.py"],
                           cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
      "error: --workdir is required (where checkpoints, TensorBoard logs and the summary go)"]


def test_a_full_log_disk_is_one_warning_and_background_tracebacks_go_to_the_log(capsys):
  """train.log on a full disk (/dev/full answers every write with ENOSPC): one warning line,
  not a traceback per record; an exception printed from another thread (as tensorstore's
  callbacks print orbax's failed writes) becomes a log record, the main thread's is printed."""
  from star_jax.train.log_routing import LogFileHandler, _log_background_exception  # pylint: disable=g-import-not-at-top
  handler = LogFileHandler("/dev/full")
  for message in ("one", "two", "three"):
    handler.handle(logging.LogRecord("absl", logging.INFO, __file__, 1, message, None, None))
  handler.close()
  assert capsys.readouterr().err.splitlines() == [
      "warning: cannot write /dev/full (OSError: [Errno 28] No space left on device); log "
      "records are dropped from here on"]
  printed = []
  hook = _log_background_exception(lambda *exc: printed.append(exc[1]))
  records = []
  collector = logging.Handler()
  collector.emit = records.append
  logging.getLogger().addHandler(collector)
  try:
    thread = threading.Thread(target=lambda: hook(RuntimeError, RuntimeError("loop closed"), None))
    thread.start()
    thread.join()
    hook(ValueError, ValueError("main"), None)
  finally:
    logging.getLogger().removeHandler(collector)
  assert [r.exc_info[1].args[0] for r in records if r.exc_info] == ["loop closed"]
  assert [str(e) for e in printed] == ["main"]


def test_a_traceback_printed_by_another_thread_goes_to_the_log():
  """tensorstore's callbacks print 'Event loop is closed' tracebacks straight to stderr after
  a failed save: they become log records; other output passes through."""
  import io  # pylint: disable=g-import-not-at-top
  from star_jax.train.log_routing import BackgroundTracebackFilter  # pylint: disable=g-import-not-at-top
  console = io.StringIO()
  stderr = BackgroundTracebackFilter(console)
  records = []
  collector = logging.Handler()
  collector.emit = records.append
  logging.getLogger().addHandler(collector)
  pieces = ["Traceback (most recent call last):\n", '  File "x.py", line 1, in f\n',
            "    g()\n", "RuntimeError", ": ", "Event loop is closed", "\n"]
  try:
    thread = threading.Thread(target=lambda: [stderr.write(p) for p in pieces + ["step 3\n"]])
    thread.start()
    thread.join()
    stderr.write("error: training failed\n")
  finally:
    logging.getLogger().removeHandler(collector)
  assert console.getvalue() == "step 3\nerror: training failed\n"
  assert [r.getMessage().splitlines()[1:] for r in records] == [
      "".join(pieces).splitlines()]


_TRACEBACK_WHILE_THE_LOG_FAILS = """
import logging, sys, threading, traceback
from star_jax.train.log_routing import BackgroundTracebackFilter, LogFileHandler
logging.getLogger().handlers[:] = [LogFileHandler("/dev/full")]  # every write fails: a full
# disk (the only handler: absl's console handler, left out, would print the records)
sys.stderr = BackgroundTracebackFilter(sys.stderr)

def failed_callback():  # as tensorstore's callbacks print after a failed checkpoint save
  try:
    raise RuntimeError("Event loop is closed")
  except RuntimeError:
    traceback.print_exc()  # line by line
  sys.stderr.write("Traceback (most recent call last):\\nValueError: in one write\\n")

thread = threading.Thread(target=failed_callback)  # not a daemon: the exit waits for it
thread.start()
thread.join()
print("done", flush=True)
"""


def test_a_traceback_printed_by_another_thread_while_the_log_file_fails_does_not_hang():
  """The checkpoint save that fails because the disk is full (or a file size limit is
  reached) also fails train.log: logging the traceback a tensorstore thread prints then
  prints LogFileHandler's warning from that thread, inside BackgroundTracebackFilter.write.
  That once waited forever for the filter's own lock (the run never exited); now the warning
  is printed once and the thread ends."""
  try:
    result = subprocess.run([sys.executable, "-c", _TRACEBACK_WHILE_THE_LOG_FAILS], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
  except subprocess.TimeoutExpired as hung:
    raise AssertionError(f"hung (deadlock in BackgroundTracebackFilter): {hung.stderr}") from None
  assert result.returncode == 0 and result.stdout == "done\n", result.stderr
  assert result.stderr.count("warning: cannot write /dev/full (OSError: ") == 1, result.stderr
  assert "Event loop is closed" not in result.stderr and "KeyError" not in result.stderr, (
      result.stderr)
