"""``star_jax.train.preflight`` in-process: the data checks on small hand-made Vimeo layouts,
the workdir lock held by a real second process, and the resume report. (The same checks in
real runs of ``python -m star_jax.main`` are in test_main_robust.py.)"""

import os
import pathlib
import subprocess
import sys

import ml_collections
import numpy as np
import pytest
from PIL import Image

from star_jax.train import preflight
from star_jax.train.config import base_config, with_fields
from tests.train.conftest import REPO


def _dataset(root: pathlib.Path, train_sizes, test_sizes) -> pathlib.Path:
  """A Vimeo layout with one clip per (width, height) given; frames are flat grey PNGs."""
  for split, sizes in (("train", train_sizes), ("test", test_sizes)):
    names = []
    for index, (width, height) in enumerate(sizes):
      name = f"{split}/{index:04d}"
      clip = root / "sequences" / name
      clip.mkdir(parents=True)
      for frame in range(1, 4):
        Image.fromarray(np.full((height, width, 3), 100, np.uint8)).save(clip / f"im{frame}.png")
      names.append(name)
    (root / f"tri_{split}list.txt").write_text("".join(n + "\n" for n in names))
  return root


def _config(root, **fields) -> ml_collections.ConfigDict:
  config = base_config()
  config.data.dir = str(root)
  config.data.patch_size = 16
  config.batch_size = 2
  config.eval_batch_size = 2
  return with_fields(config, **fields)


def test_consistent_data_passes(tmp_path):
  root = _dataset(tmp_path, [(160, 128)] * 3, [(160, 128)] * 2)
  preflight.check_data(_config(root))
  preflight.check_data(_config(root, **{"data.patch_size": 0}))


def test_empty_split_is_refused_naming_the_field_and_list(tmp_path):
  root = _dataset(tmp_path, [(160, 128)] * 2, [])
  with pytest.raises(ValueError, match=r"split 'test' \(data.eval_split\) has no clips: "
                                       f"{root / 'tri_testlist.txt'} lists none"):
    preflight.check_data(_config(root))


def test_mixed_frame_sizes_are_refused_naming_clips_and_sizes(tmp_path):
  root = _dataset(tmp_path, [(160, 128), (168, 136)], [(160, 128), (168, 136), (160, 128)])
  with pytest.raises(ValueError) as info:
    preflight.check_data(_config(root))
  assert str(info.value) == (
      "eval_batch_size=2 stacks whole frames, which must then have one size, but in split "
      "'test' clip test/0000 (160x128 frames, 40x32 LR at model.scale 4) and clip test/0001 "
      "(168x136 frames, 42x34 LR at model.scale 4) differ; use eval_batch_size=1 or clips "
      "of one size")
  preflight.check_data(_config(root, eval_batch_size=1))  # one sample per batch: any size
  with pytest.raises(ValueError, match=r"^data.patch_size=0 trains on whole frames, which must "
                                       r"all have one size, but in split 'train' clip train/0000"):
    preflight.check_data(_config(root, eval_batch_size=1, **{"data.patch_size": 0}))


def test_patch_larger_than_the_frames_is_refused(tmp_path):
  root = _dataset(tmp_path, [(160, 128), (96, 64)], [(160, 128)])
  with pytest.raises(ValueError) as info:
    preflight.check_data(_config(root, **{"data.patch_size": 20}))
  assert str(info.value) == (
      "data.patch_size=20 is larger than the input frames of clip train/0001 (96x64 frames, "
      "24x16 LR at model.scale 4) in split 'train'; use data.patch_size <= 16")
  preflight.check_data(_config(root, **{"data.patch_size": 16}))
  preflight.check_data(_config(root, **{"data.patch_size": 20, "model.scale": 2}))


def test_unreadable_clip_is_named_or_skipped(tmp_path):
  root = _dataset(tmp_path, [(160, 128)] * 2, [(160, 128)])
  (root / "sequences" / "train/0001" / "im1.png").write_bytes(b"not a png")
  with pytest.raises(ValueError, match=r"cannot read frame .*train/0001/im1.png.*"
                                       r"data.skip_corrupt=True skips such clips"):
    preflight.check_data(_config(root))
  preflight.check_data(_config(root, **{"data.skip_corrupt": True}))


_HOLD_LOCK = ("import sys, time\nfrom star_jax.train import preflight\n"
              "preflight.lock_workdir(sys.argv[1])\nprint('locked', flush=True)\ntime.sleep(600)")


def test_a_workdir_in_use_by_a_live_run_is_refused_and_freed_when_it_ends(tmp_path):
  holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(preflight.WorkdirError,
                       match=rf"workdir {tmp_path} is in use by another run \(pid {holder.pid} "
                             r"on host .*, started .*; .*run.lock\)"):
      preflight.lock_workdir(tmp_path)
  finally:
    holder.kill()
    holder.wait()
  preflight.lock_workdir(tmp_path)  # the kernel released the dead process's lock
  assert f"pid {os.getpid()} " in (tmp_path / preflight.LOCK_FILE).read_text()
  preflight.release_workdir(tmp_path)


def test_workdir_that_cannot_be_created_is_one_line(tmp_path):
  (tmp_path / "file").write_text("")
  with pytest.raises(preflight.WorkdirError) as info:
    preflight.prepare_workdir(tmp_path / "file" / "run")
  assert str(info.value) == f"cannot create workdir {tmp_path / 'file' / 'run'}: Not a directory"


def test_resume_changes_say_what_moves():
  saved = base_config().to_dict()
  saved.update(batch_size=4, total_steps=20)
  saved["data"]["num_workers"] = 2
  now = base_config()
  now.batch_size, now.total_steps, now.lr_decay_every_epochs = 2, 30, 30
  now.data.num_workers = 0
  now.model.remat = "blocks"
  lines = preflight.resume_changes(saved, now, num_train_clips=16, step=6)
  assert lines == [
      "total_steps 20 -> 30 since checkpoint 6",
      "data.num_workers 2 -> 0 since checkpoint 6 (the data position is converted, the next "
      "clip is the same)",
      "model.remat none -> blocks since checkpoint 6 (a compute setting: same parameters, "
      "other memory use)",
      "batch_size 4 -> 2 since checkpoint 6: the learning rate now decays (x0.1) every 240 "
      "steps, was every 120 (16 training clips); next decay at step 240, and the rate at "
      "step 7 follows the new schedule"]
  assert preflight.resume_changes(saved | {"batch_size": 2, "total_steps": 30},
                                  now, 16, 6)[-1].startswith("model.remat")
