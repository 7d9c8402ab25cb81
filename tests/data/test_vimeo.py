"""The Vimeo-90K layout reader."""

import shutil

import numpy as np
import pytest

from star_jax.data import frames
from star_jax.data import vimeo
from star_jax.errors import UserInputError


def _tiny_root(tmp_path, clips=("00001/0001", "00001/0002"), size=(8, 12)):
  for index, clip in enumerate(clips):
    for number in range(1, 4):
      frame = np.full(size + (3,), 10 * index + number, np.uint8)
      frames.write_frame(tmp_path / "sequences" / clip / f"im{number}.png", frame)
  return tmp_path


def test_lists_ignore_blank_lines(tmp_path):
  root = _tiny_root(tmp_path)
  (root / "tri_trainlist.txt").write_text("00001/0001\n\n  \n00001/0002\n\n")
  assert vimeo.read_clip_list(root, "triplet", "train") == ["00001/0001", "00001/0002"]


def test_missing_list_error_names_it(tmp_path):
  with pytest.raises(UserInputError, match="sep_testlist.txt"):
    vimeo.VimeoClips.open(tmp_path, "septuplet", "test")


def test_bad_kind_or_split(tmp_path):
  with pytest.raises(ValueError, match="kind"):
    vimeo.read_clip_list(tmp_path, "quintuplet", "train")
  with pytest.raises(ValueError, match="split"):
    vimeo.read_clip_list(tmp_path, "triplet", "val")


def test_load_clip_reads_frames_in_order(tmp_path):
  root = _tiny_root(tmp_path)
  (root / "tri_testlist.txt").write_text("00001/0002\n")
  clips = vimeo.VimeoClips.open(root, "triplet", "test")
  assert len(clips) == 1 and clips.frames_per_clip == 3
  clip = clips.load_clip("00001/0002")
  assert clip.shape == (3, 8, 12, 3) and clip.dtype == np.uint8
  np.testing.assert_array_equal(clip[:, 0, 0, 0], [11, 12, 13])
  np.testing.assert_array_equal(clips.load_clip("00001/0002", (3, 1))[:, 0, 0, 0], [13, 11])
  with pytest.raises(ValueError, match="frame number 4"):
    clips.load_clip("00001/0002", (4,))


def test_missing_clip_error_names_folder_and_list(tmp_path):
  root = _tiny_root(tmp_path)
  (root / "tri_trainlist.txt").write_text("00001/0001\n00009/0009\n")
  clips = vimeo.VimeoClips.open(root, "triplet", "train")
  with pytest.raises(vimeo.MissingClipError, match="00009/0009.*tri_trainlist.txt"):
    clips.load_clip("00009/0009")


def test_missing_frame_error_names_the_frame(tmp_path):
  root = _tiny_root(tmp_path)
  (root / "tri_trainlist.txt").write_text("00001/0001\n")
  (root / "sequences" / "00001" / "0001" / "im3.png").unlink()
  with pytest.raises(frames.FrameReadError, match="00001/0001/im3.png"):
    vimeo.VimeoClips.open(root, "triplet", "train").load_clip("00001/0001")


def test_frames_of_different_sizes_are_an_error(tmp_path):
  root = _tiny_root(tmp_path)
  (root / "tri_trainlist.txt").write_text("00001/0001\n")
  frames.write_frame(root / "sequences" / "00001" / "0001" / "im2.png",
                     np.zeros((4, 4, 3), np.uint8))
  with pytest.raises(frames.FrameReadError, match="differ in size"):
    vimeo.VimeoClips.open(root, "triplet", "train").load_clip("00001/0001")


def test_reads_the_demo_dataset_septuplets(demo_root, tmp_path):
  clips = vimeo.VimeoClips.open(demo_root, "septuplet", "train")
  assert clips.load_clip(clips.clips[0]).shape == (7, 128, 160, 3)
  copy = tmp_path / "copy"
  shutil.copytree(demo_root, copy)
  shutil.rmtree(copy / "sequences" / clips.clips[1])
  with pytest.raises(vimeo.MissingClipError, match=clips.clips[1]):
    vimeo.VimeoClips.open(copy, "septuplet", "train").load_clip(clips.clips[1])
