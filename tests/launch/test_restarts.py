"""The launch scripts restart a preempted or failed run (issue 21 point 5): launch/retry.sh
(the TPU VM workers' loop) and launch/slurm.sbatch's requeue, run by bash with stand-ins
for the training command and for SLURM's srun/scontrol; the GKE JobSet's grace period and
restart budget."""

import os
import pathlib
import signal
import subprocess
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch"

# A stand-in command: exits with the next status listed in $STATUSES (one per call) after
# sleeping $SLEEP seconds, and appends its arguments to $CALLS.
FAKE_RUN = """#!/usr/bin/env bash
n=$(cat "$CALLS" 2>/dev/null | wc -l)
echo "$*" >> "$CALLS"
sleep "${SLEEP:-0}"
exit "$(sed -n "$((n + 1))p" "$STATUSES")"
"""


def _fake(tmp_path, name, text=FAKE_RUN):
  path = tmp_path / "bin" / name
  path.parent.mkdir(exist_ok=True)
  path.write_text(text)
  path.chmod(0o755)
  return path


def _retry(tmp_path, statuses, **env):
  (tmp_path / "statuses").write_text("".join(f"{s}\n" for s in statuses))
  run = _fake(tmp_path, "run")
  result = subprocess.run(
      ["bash", str(LAUNCH / "retry.sh"), str(run), "--config=c.py"], capture_output=True,
      text=True, timeout=60, env=dict(os.environ, CALLS=str(tmp_path / "calls"),
                                      STATUSES=str(tmp_path / "statuses"), RETRY_DELAY="0",
                                      **env))
  calls = (tmp_path / "calls").read_text().splitlines()
  return result, calls


def test_retry_restarts_after_preemption_and_failure_only(tmp_path):
  result, calls = _retry(tmp_path, [143, 1, 0])
  assert result.returncode == 0 and calls == ["--config=c.py"] * 3
  assert "exit status 143; restart 1 of 5" in result.stderr
  for status in (2, 130):
    (tmp_path / "calls").unlink()
    result, calls = _retry(tmp_path, [status, 0])
    assert result.returncode == status and len(calls) == 1


def test_retry_gives_up_after_max_restarts(tmp_path):
  result, calls = _retry(tmp_path, [143] * 5, MAX_RESTARTS="2")
  assert result.returncode == 143 and len(calls) == 3
  assert "after 2 restarts (MAX_RESTARTS=2); giving up" in result.stderr


def test_sigterm_to_the_loop_lets_the_run_end_and_stops(tmp_path):
  (tmp_path / "statuses").write_text("143\n0\n")
  run = _fake(tmp_path, "run")
  proc = subprocess.Popen(["bash", str(LAUNCH / "retry.sh"), str(run)], text=True,
                          stderr=subprocess.PIPE,
                          env=dict(os.environ, CALLS=str(tmp_path / "calls"), SLEEP="3",
                                   STATUSES=str(tmp_path / "statuses"), RETRY_DELAY="0"))
  deadline = time.time() + 30
  while not (tmp_path / "calls").exists():
    assert time.time() < deadline
    time.sleep(0.05)
  proc.send_signal(signal.SIGTERM)
  assert proc.wait(timeout=30) == 143
  assert (tmp_path / "calls").read_text().splitlines() == [""]


def _slurm(tmp_path, status, restart_count="0"):
  (tmp_path / "statuses").write_text(f"{status}\n")
  (tmp_path / "calls").unlink(missing_ok=True)
  _fake(tmp_path, "srun")
  _fake(tmp_path, "scontrol", """#!/usr/bin/env bash
if [ "$1" = show ]; then echo node-a; echo node-b; else echo "$*" >> "$REQUEUES"; fi
""")
  env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}",
             CALLS=str(tmp_path / "calls"), STATUSES=str(tmp_path / "statuses"),
             REQUEUES=str(tmp_path / "requeues"), SLURM_JOB_NODELIST="node-[a-b]",
             SLURM_NNODES="2", SLURM_JOB_ID="4242", SLURM_RESTART_COUNT=restart_count)
  result = subprocess.run(["bash", str(LAUNCH / "slurm.sbatch"), "configs/star.py", "/w",
                           "--config.total_steps=9"], capture_output=True, text=True,
                          timeout=60, env=env)
  requeues = tmp_path / "requeues"
  return result, requeues.read_text().splitlines() if requeues.exists() else []


def test_slurm_requeues_a_preempted_or_failed_job(tmp_path):
  header = (LAUNCH / "slurm.sbatch").read_text()
  assert "#SBATCH --signal=TERM@180\n" in header and "#SBATCH --requeue\n" in header
  for status, requeued in ((143, True), (1, True), (0, False), (2, False), (130, False)):
    (tmp_path / "requeues").unlink(missing_ok=True)
    result, requeues = _slurm(tmp_path, status)
    assert result.returncode == status, result.stderr
    assert requeues == (["requeue 4242"] if requeued else []), (status, result.stderr)
  srun_args = (tmp_path / "calls").read_text()
  assert "star_jax.main" in srun_args and "--config.total_steps=9" in srun_args
  _, requeues = _slurm(tmp_path, 143, restart_count="5")  # REQUEUE_LIMIT reached
  assert requeues == []


def test_gke_grace_period_and_restarts():
  out = subprocess.run(["bash", str(LAUNCH / "gke" / "render.sh"), "tpu", "c.py", "/w"],
                       env=dict(os.environ, DRY_RUN="1", GRACE_SECONDS="240"),
                       capture_output=True, text=True, check=True).stdout
  jobset = yaml.safe_load(out)
  assert jobset["spec"]["failurePolicy"]["maxRestarts"] == 10
  (job,) = jobset["spec"]["replicatedJobs"]
  assert job["template"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 240


def test_tpu_workers_run_under_the_retry_loop():
  out = subprocess.run(["bash", str(LAUNCH / "tpu_vm.sh"), "t", "z", "configs/star.py", "/w"],
                       env=dict(os.environ, DRY_RUN="1", REPO="https://example.invalid/s.git",
                                MAX_RESTARTS="3"),
                       capture_output=True, text=True, check=True).stdout
  assert ("MAX_RESTARTS=3\\ RETRY_DELAY=10\\ bash\\ launch/retry.sh\\ python3\\ -m\\ "
          "star_jax.main") in out
  bad = subprocess.run(["bash", str(LAUNCH / "tpu_vm.sh"), "t", "z", "c.py", "/w"],
                       env=dict(os.environ, DRY_RUN="1", REPO="r", MAX_RESTARTS="x; rm"),
                       capture_output=True, text=True)
  assert bad.returncode == 2 and "MAX_RESTARTS must be a whole number" in bad.stderr
