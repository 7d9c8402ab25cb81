"""Preemption and recovery of ``python -m star_jax.main`` (issue 21), each a real run of a tiny
model: SIGTERM / SIGINT save the step reached and exit 143 / 130, and a restart resumes
there (one process, and two under jax.distributed agreeing on the step); a lost process is
named by the survivor in one line; a damaged newest checkpoint is passed over for the
newest one that restores; a run restarts onto another device count and mesh."""

import pathlib
import re
import signal
import socket
import subprocess
import time

import grain
import pytest

from tests.train.conftest import REPO, command_env, main_command, run_main
from tests.conftest import fake_device_flags

TIMEOUT = 900


def start_main(workdir, data_dir, *overrides, env=None, name=None):
  """``python -m star_jax.main`` in the background (``env``: variables set over
  :func:`command_env`'s), its stderr (the log lines) in ``<workdir>.<name>.stderr``."""
  log = pathlib.Path(f"{workdir}.{name or 'main'}.stderr")
  log.parent.mkdir(parents=True, exist_ok=True)
  err = open(log, "w")  # pylint: disable=consider-using-with (closed by wait_for_exit)
  proc = subprocess.Popen(main_command(workdir, data_dir, *overrides), cwd=REPO, text=True,
                          stdout=subprocess.PIPE, stderr=err, env=command_env(**(env or {})))
  proc.log, proc.err_file = log, err
  return proc


def wait_for_line(proc, pattern, timeout=TIMEOUT):
  """Waits until ``proc``'s stderr has a line matching ``pattern``; returns the match."""
  deadline = time.time() + timeout
  while True:
    match = re.search(pattern, proc.log.read_text())
    if match:
      return match
    assert proc.poll() is None, f"run ended before {pattern!r}:\n{proc.log.read_text()[-3000:]}"
    assert time.time() < deadline, f"no {pattern!r} within {timeout} s"
    time.sleep(0.2)


def wait_for_exit(proc, timeout=TIMEOUT):
  """(exit status, stdout, stderr) once ``proc`` ends."""
  out, _ = proc.communicate(timeout=timeout)
  proc.err_file.close()
  return proc.returncode, out, proc.log.read_text()


def saved_steps(workdir):
  return sorted(int(p.name) for p in (pathlib.Path(workdir) / "checkpoints").iterdir()
                if p.name.isdigit())


def test_sigterm_and_sigint_save_the_step_reached_and_a_restart_resumes(tiny_dataset, tmp_path):
  workdir = tmp_path / "run"
  steps = ("--config.total_steps=40", "--config.checkpoint_every_steps=1000")
  proc = start_main(workdir, tiny_dataset, *steps)
  wait_for_line(proc, r"step 3/40")
  proc.send_signal(signal.SIGTERM)
  code, out, err = wait_for_exit(proc)
  assert code == 143, err[-3000:]
  first = int(re.search(r"preempted at step (\d+): saved checkpoint (\d+) in (\S+) ", out)[1])
  assert 3 <= first < 40 and saved_steps(workdir) == [first], out
  assert f"in {workdir / 'checkpoints'}" in out and "Traceback" not in err

  proc = start_main(workdir, tiny_dataset, *steps)
  wait_for_line(proc, rf"resumed from \S+ at step {first}")
  wait_for_line(proc, rf"step {first + 2}/40")
  proc.send_signal(signal.SIGINT)
  code, out, err = wait_for_exit(proc)
  assert code == 130, err[-3000:]
  second = int(re.search(r"interrupted at step (\d+): saved checkpoint \1 in ", out)[1])
  assert second >= first + 2 and saved_steps(workdir) == [first, second]
  assert "Traceback" not in err and "error:" not in err


def _zero_second_half_of_largest_file(checkpoint: pathlib.Path) -> pathlib.Path:
  largest = max((p for p in checkpoint.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
  data = bytearray(largest.read_bytes())
  data[len(data) // 2:] = bytes(len(data) - len(data) // 2)
  largest.write_bytes(bytes(data))
  return largest


def test_damaged_checkpoints_are_passed_over_kept_and_listed(tiny_dataset, tmp_path):
  workdir = tmp_path / "run"
  steps = ("--config.checkpoint_every_steps=2", "--config.keep_checkpoints=3")
  first = run_main(workdir, tiny_dataset, "--config.total_steps=4", *steps)
  assert first.returncode == 0, first.stderr[-3000:]
  assert saved_steps(workdir) == [2, 4]

  # None restores: checkpoint 4's array metadata truncated, checkpoint 2's config unreadable.
  broken = tmp_path / "broken"
  subprocess.run(["cp", "-r", str(workdir), str(broken)], check=True)
  metadata = broken / "checkpoints" / "4" / "state" / "_METADATA"
  metadata.write_bytes(metadata.read_bytes()[:metadata.stat().st_size // 2])
  (broken / "checkpoints" / "2" / "config" / "metadata").write_text("{not json")
  refused = run_main(broken, tiny_dataset, "--config.total_steps=6", *steps)
  lines = refused.stderr.strip().splitlines()
  assert refused.returncode == 2, refused.stderr[-3000:]
  assert lines[-1].startswith(f"error: no checkpoint in {broken / 'checkpoints'} restores; "
                              "tried checkpoint 4 ("), lines[-1]
  assert "checkpoint 2 (JSONDecodeError" in lines[-1] and "Traceback" not in refused.stderr
  assert saved_steps(broken) == [2, 4]

  # The newest damaged (its largest file half zeroed): resumed from 2, 4 kept aside.
  zeroed = _zero_second_half_of_largest_file(workdir / "checkpoints" / "4")
  damaged_bytes = zeroed.read_bytes()
  resumed = run_main(workdir, tiny_dataset, "--config.total_steps=6", *steps)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  warning = next(l for l in resumed.stderr.splitlines() if "does not restore" in l)
  aside = workdir / "unrestorable_checkpoints" / "4"
  assert f"checkpoint 4 in {workdir / 'checkpoints'} does not restore (" in warning
  assert f"moved to {aside}, resuming from checkpoint 2" in warning
  assert f"at step 2" in next(l for l in resumed.stderr.splitlines() if "resumed from" in l)
  assert "done: step 6" in resumed.stdout
  assert (aside / zeroed.relative_to(workdir / "checkpoints" / "4")).read_bytes() == damaged_bytes
  assert saved_steps(workdir) == [2, 4, 6]


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start_two(workdir, data_dir, *overrides):
  """Two local processes under jax.distributed, two fake CPU devices each."""
  port = _free_port()
  return [start_main(workdir, data_dir, *overrides, name=f"p{process_id}", env=dict(
      XLA_FLAGS=fake_device_flags(2),
      JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
      JAX_PROCESS_ID=str(process_id))) for process_id in range(2)]


@pytest.mark.slow
def test_two_processes_agree_on_the_step_to_save_and_name_a_lost_one(tiny_dataset, tmp_path):
  workdir = tmp_path / "multi"
  overrides = ("--config.total_steps=40", "--config.checkpoint_every_steps=1000",
               "--config.mesh_shape=(2,2)", "--config.lost_process_timeout_seconds=10")
  procs = start_two(workdir, tiny_dataset, *overrides)
  wait_for_line(procs[0], r"step 3/40")
  procs[1].send_signal(signal.SIGTERM)  # one process gets the notice, both stop
  reached = set()
  for proc in procs:
    code, out, err = wait_for_exit(proc)
    assert code == 143, err[-3000:]
    reached.add(int(re.search(r"preempted at step (\d+): saved checkpoint \1 in ", out)[1]))
  (step,) = reached
  assert saved_steps(workdir) == [step]

  procs = start_two(workdir, tiny_dataset, *overrides)
  wait_for_line(procs[0], rf"resumed from \S+ at step {step}")
  wait_for_line(procs[0], rf"step {step + 2}/40")
  procs[1].kill()
  code, out, err = wait_for_exit(procs[0])
  procs[1].wait()
  procs[1].err_file.close()
  assert code == 1, err[-3000:]
  assert err.strip().splitlines()[-1].startswith(
      "error: lost process 1 of 2 (no heartbeat for "), err[-3000:]
  for dump in ("Traceback", "Check failure", "Fatal Python error"):
    assert dump not in err


def test_the_coordinators_loss_is_one_line(tiny_dataset, tmp_path):
  """SIGKILL to process 0's command (the coordinator; its training child dies with it):
  jaxlib aborts the survivor's training process from C++ within seconds, and the
  survivor's command says so in one line naming process 0, status 1."""
  procs = start_two(tmp_path / "multi", tiny_dataset, "--config.total_steps=40",
                    "--config.checkpoint_every_steps=1000", "--config.mesh_shape=(2,2)")
  wait_for_line(procs[1], r"step 2/40")
  procs[0].kill()
  code, _, err = wait_for_exit(procs[1])
  procs[0].wait()
  procs[0].err_file.close()
  assert code == 1, err[-3000:]
  last = err.strip().splitlines()[-1]
  assert re.fullmatch(r"error: lost process 0 of 2, the jax.distributed coordinator at "
                      r"127\.0\.0\.1:\d+ \(this process's error poll to it failed: .+\); "
                      r"stopping process 1; details in \S+train\.log", last), err[-3000:]
  for dump in ("Traceback", "Check failure", "Fatal Python error", "Terminating process"):
    assert dump not in err
  assert "Terminating process because the JAX distributed service detected fatal errors" in (
      tmp_path / "multi" / "train.log").read_text()


def test_restart_onto_another_device_count_and_mesh(tiny_dataset, tmp_path):
  workdir = tmp_path / "run"
  devices = lambda n: {"XLA_FLAGS": fake_device_flags(n)}
  first = run_main(workdir, tiny_dataset, "--config.total_steps=2",
                   "--config.checkpoint_every_steps=2", "--config.mesh_shape=(4,1)",
                   env=devices(4))
  assert first.returncode == 0, first.stderr[-3000:]

  # Saved on 4 devices with replicated parameters; resumed on 2, kernels sharded on 'model'.
  second = run_main(workdir, tiny_dataset, "--config.total_steps=3",
                    "--config.checkpoint_every_steps=1", "--config.mesh_shape=(1,2)",
                    "--config.param_sharding=(('.*kernel', (None, None, None, 'model')),)",
                    env=devices(2))
  assert second.returncode == 0, second.stderr[-3000:]
  assert "resumed from" in second.stderr and "at step 2" in second.stderr
  assert "mesh {'data': 1, 'model': 2, 'space': 1}" in second.stderr and "done: step 3" in second.stdout
  assert saved_steps(workdir) == [2, 3]

  # A global batch of 4 over a data axis of 3: refused before anything is prepared or run.
  third = run_main(workdir, tiny_dataset, "--config.total_steps=4",
                   "--config.mesh_shape=(3,1)", env=devices(3))
  assert third.returncode == 2, third.stderr[-3000:]
  assert third.stderr.strip().splitlines()[-1] == (
      "error: batch_size=4 must be a positive multiple of 3 (the mesh's data axis of 3, "
      "mesh_shape=(3, 1)): e.g. 3 or 6")
  assert "compiled train step" not in third.stderr and saved_steps(workdir) == [2, 3]


class _FailingAfter(grain.DatasetIterator):
  """The run's grain iterator, except that batch ``n + 1`` fails as a data worker would."""

  def __init__(self, parent, n):
    super().__init__(parent)
    self._left = n

  def __next__(self):
    if self._left == 0:
      raise OSError("a data worker failed: truncated PNG")
    self._left -= 1
    return next(self._parent)

  def get_state(self):
    return self._parent.get_state()

  def set_state(self, state):
    self._parent.set_state(state)

  @property
  def last_clips(self):  # the clips of the batch just returned (the trainer names them)
    return self._parent.last_clips


def test_a_data_failure_leaves_the_checkpoint_in_flight_complete(tiny_dataset, tmp_path):
  from star_jax.train import trainer  # pylint: disable=g-import-not-at-top
  from tests.train.test_trainer import _tiny_demo_config  # pylint: disable=g-import-not-at-top
  config = _tiny_demo_config(tiny_dataset)
  config.update(total_steps=4, checkpoint_every_steps=2, eval_every_steps=100)
  run = trainer.setup(config, str(tmp_path))
  run.train_iter = _FailingAfter(run.train_iter, 2)  # step 2 saves (async), step 3 fails
  try:
    trainer.train_loop(run)
  except OSError as error:
    assert "data worker failed" in str(error)
    # When the error reaches the caller, checkpoint 2 is final, not a temporary folder.
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["2"]
    assert (tmp_path / "checkpoints" / "2" / "_CHECKPOINT_METADATA").is_file()
  else:
    raise AssertionError("the data failure did not stop the run")
  run.manager.close()
