"""Real runs of ``python -m star_jax.main`` that must not lose work or train on the wrong
thing (issue 25): refusals at start before any compute, save before evaluating, bad cached
flows named and skippable, a failed save stopping the run with the previous checkpoint
intact, Ctrl-C with worker processes, and resuming with changed settings. Each run is a
tiny model on the shared tiny dataset; related checks share a run."""

import os
import pathlib
import re
import resource
import shutil
import signal
import subprocess
import time

import numpy as np
import orbax.checkpoint as ocp

from star_jax.data import flow_cache, frames, pipeline, vimeo
from star_jax.flow import FlowSettings
from tests.train.conftest import REPO, main_command, run_main

FLOW = FlowSettings("opencv_dis")


def _error_line(result) -> str:
  lines = result.stderr.strip().splitlines()
  return lines[-1] if lines else ""


def _read_only_parent(tmp_path: pathlib.Path):
  """(a folder no workdir can be created in, the reason the OS gives, cleanup): a read-only
  tmpfs where this process may mount one (root with CAP_SYS_ADMIN), a folder without write
  permission for other users, else a regular file standing where the folder would be."""
  folder = tmp_path / "read_only"
  folder.mkdir()
  if os.geteuid() != 0:
    folder.chmod(0o555)
    return folder, "Permission denied", lambda: folder.chmod(0o755)
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                           capture_output=True, check=False)
  if mounted.returncode == 0:
    return folder, "Read-only file system", lambda: subprocess.run(["umount", str(folder)],
                                                                   check=False)
  folder.rmdir()
  folder.write_text("")
  return folder, "Not a directory", lambda: None


def _with_nan(cache_file: pathlib.Path) -> None:
  with np.load(cache_file) as data:
    arrays = dict(data)
  arrays["flow_f"][1:3, 1:3] = np.nan
  np.savez(cache_file, **arrays)


def _copy(dataset: pathlib.Path, to: pathlib.Path) -> pathlib.Path:
  shutil.copytree(dataset, to, symlinks=True)
  return to


def test_what_is_known_at_start_is_refused_before_any_compute(tiny_dataset, tmp_path):
  """Empty eval split, a test clip of another size, a patch larger than the frames, and a
  read-only workdir: each one error: line, status 2, before any step is compiled."""
  empty = tmp_path / "empty_test"
  empty.mkdir()
  for name in ("sequences", "flow_cache", "tri_trainlist.txt"):
    (empty / name).symlink_to(tiny_dataset / name)
  (empty / "tri_testlist.txt").write_text("")

  mixed = _copy(tiny_dataset, tmp_path / "mixed")
  odd_clip = vimeo.read_clip_list(mixed, "triplet", "test")[3]
  clip_frames = vimeo.VimeoClips.open(mixed, "triplet", "test").load_clip(odd_clip)
  for index in range(3):
    frames.write_frame(mixed / "sequences" / odd_clip / f"im{index + 1}.png",
                       np.pad(clip_frames[index], ((0, 8), (0, 8), (0, 0)), mode="edge"))
  first_clip = vimeo.read_clip_list(mixed, "triplet", "test")[0]

  read_only, reason, cleanup = _read_only_parent(tmp_path)
  cases = [
      (empty, tmp_path / "w1", (),
       f"error: split 'test' (data.eval_split) has no clips: {empty / 'tri_testlist.txt'} "
       "lists none"),
      (mixed, tmp_path / "w2", (),
       f"error: eval_batch_size=4 stacks whole frames, which must then have one size, but in "
       f"split 'test' clip {first_clip} (160x128 frames, 40x32 LR at model.scale 4) and clip "
       f"{odd_clip} (168x136 frames, 42x34 LR at model.scale 4) differ; use "
       "eval_batch_size=1 or clips of one size"),
      (tiny_dataset, tmp_path / "w3", ("--config.data.patch_size=48",),
       "error: data.patch_size=48 is larger than the input frames of clip "),
      (tiny_dataset, read_only / "run", (),
       f"error: cannot create workdir {read_only / 'run'}: {reason}"),
  ]
  try:
    for data_dir, workdir, overrides, expected in cases:
      result = run_main(workdir, data_dir, "--config.total_steps=2", *overrides, timeout=300)
      assert result.returncode == 2, result.stderr[-3000:]
      assert _error_line(result).startswith(expected), result.stderr[-3000:]
      assert "Traceback" not in result.stderr
      assert "compiled train step" not in result.stderr
      assert not (pathlib.Path(workdir) / "checkpoints").exists()
  finally:
    cleanup()


def _clips_of_batch(data_dir, batch_number: int):
  """The clips of the training run's ``batch_number``-th batch (1-based): the pipeline the
  trainer builds for the tiny runs (batch 4, seed 0, one process)."""
  iterator = iter(pipeline.make_dataset(pipeline.PipelineConfig(
      root=str(data_dir), batch_size=4, patch_size=16, flow=FLOW, shard_index=0,
      shard_count=1)))
  for _ in range(batch_number):
    next(iterator)
  return iterator.last_clips


def test_checkpoint_before_evaluation_and_bad_cached_flows_named_then_skipped(tiny_dataset,
                                                                              tmp_path):
  """A NaN in an eval clip's cached flow: the step's checkpoint is written before the
  evaluation that stops on it, naming the file; with data.skip_corrupt the restart gets past
  it and past a NaN in a training clip's cache too."""
  data_dir = _copy(tiny_dataset, tmp_path / "data")
  cache_dir = flow_cache.default_cache_dir(data_dir, FLOW, 4)
  eval_clip = vimeo.read_clip_list(data_dir, "triplet", "test")[2]
  eval_file = flow_cache.clip_cache_path(cache_dir, eval_clip)
  _with_nan(eval_file)
  workdir = tmp_path / "run"
  first = run_main(workdir, data_dir, "--config.total_steps=2",
                   "--config.checkpoint_every_steps=2", "--config.eval_every_steps=2")
  assert first.returncode == 2, first.stderr[-3000:]
  assert _error_line(first) == (
      f"error: flow cache file {eval_file} holds 8 non-finite values in flow_f; delete it "
      "(the next start recomputes it) or set data.skip_corrupt=True to skip its clip")
  assert "Traceback" not in first.stderr
  assert (workdir / "checkpoints" / "2" / "state").is_dir()  # saved before the evaluation

  train_clip = _clips_of_batch(data_dir, 3)[0]  # read by step 3 of the resumed run
  _with_nan(flow_cache.clip_cache_path(cache_dir, train_clip))
  second = run_main(workdir, data_dir, "--config.total_steps=4",
                    "--config.checkpoint_every_steps=2", "--config.eval_every_steps=2",
                    "--config.data.skip_corrupt=True")
  assert second.returncode == 0, second.stderr[-3000:]
  assert "resumed from" in second.stderr and "done: step 4" in second.stdout
  assert f"skipping clip {train_clip}: flow cache file" in second.stderr
  assert f"skipping clip {eval_clip}: flow cache file" in second.stderr
  assert "on 7 samples" in second.stdout  # the eval split's 8 clips less the bad one


def _file_size_limit(limit):
  """A subprocess ``preexec_fn``: writes past ``limit`` bytes fail with EFBIG (Python
  ignores SIGXFSZ)."""
  return lambda: resource.setrlimit(resource.RLIMIT_FSIZE,
                                    (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_ctrl_c_with_workers_then_resume_with_changed_settings_and_a_failing_save(
    tiny_dataset, tmp_path):
  """Ctrl-C (SIGINT to the process group, as a terminal sends it) with 2 data workers: the
  step reached is saved, one line, status 130, no worker traceback or leaked shared memory. The restart changes the
  worker count, remat and batch size (said on the console and in train.log) and resumes
  until a checkpoint cannot be written (a file size limit just under the size of the state's
  _METADATA, which every save writes; train.log may cross it too, as on a full disk): one
  error: line, status 1, the previous checkpoint intact, no hang."""
  workdir = tmp_path / "run"
  proc = subprocess.Popen(
      main_command(workdir, tiny_dataset, "--config.total_steps=200",
                   "--config.checkpoint_every_steps=2", "--config.data.num_workers=2"),
      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      start_new_session=True)
  deadline = time.time() + 900
  while not (workdir / "checkpoints" / "2" / "state").is_dir():
    assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-3000:]
    time.sleep(0.2)
  os.killpg(proc.pid, signal.SIGINT)
  try:
    stdout, stderr = proc.communicate(timeout=300)
  except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)  # it hung: do not leave it (and its workers) behind
    raise
  assert proc.returncode == 130, stderr[-3000:]
  # The step reached is saved first (star_jax.train.preemption), then one line.
  assert re.search(r"^interrupted at step \d+: (saved )?checkpoint \d+ in ", stdout, re.M), stdout
  assert "Traceback" not in stderr and "leaked shared_memory" not in stderr, stderr[-3000:]

  # Every save writes the state's _METADATA (the tree's description, the same size each
  # time), so a limit under its size fails the first save after the restart, whichever file
  # crosses it first (the OCDBT data files vary in size from save to save).
  saved = max(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
  limit = (workdir / "checkpoints" / str(saved) / "state" / "_METADATA").stat().st_size - 1024
  resumed = subprocess.run(
      main_command(workdir, tiny_dataset, "--config.total_steps=12",
                   "--config.checkpoint_every_steps=1", "--config.data.num_workers=0",
                   "--config.model.remat=blocks", "--config.batch_size=2"),
      cwd=REPO, capture_output=True, text=True, timeout=600,
      preexec_fn=_file_size_limit(limit))
  step = int(re.search(r"resumed from \S+ at step (\d+)", resumed.stderr).group(1))
  for said in (f"resume: data.num_workers 2 -> 0 since checkpoint {step}",
               f"resume: model.remat none -> blocks since checkpoint {step}",
               f"resume: batch_size 4 -> 2 since checkpoint {step}: the learning rate now "
               "decays (x0.2) every 80 steps, was every 40"):
    assert said in resumed.stderr and said in (workdir / "train.log").read_text(), said
  assert resumed.returncode == 1, resumed.stderr[-3000:]
  # train.log crosses the limit too: its one warning line may come after the error line.
  line = next((said for said in reversed(resumed.stderr.splitlines())
               if said.startswith("error: ")), "")
  assert line.startswith(f"error: training failed (CheckpointSaveError: writing a checkpoint "
                         f"to {workdir / 'checkpoints'} failed ("), line
  assert "File too large" in line, line
  intact = int(re.search(r"The last complete checkpoint \(step (\d+)\) is intact\)$",
                         line).group(1))
  assert "Traceback" not in resumed.stderr
  assert "step 12/12" not in resumed.stderr
  # the first save (step + 1) fails; the run stops at the next step at the latest
  assert f"step {step + 3}/12" not in resumed.stderr, resumed.stderr[-3000:]
  finished = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
  assert intact == step and finished[-1] == intact, finished  # the failed one is not there
  with ocp.StandardCheckpointer() as checkpointer:
    state = checkpointer.restore(workdir / "checkpoints" / str(intact) / "state")
  assert int(state["step"]) == intact
