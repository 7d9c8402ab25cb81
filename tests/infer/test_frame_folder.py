"""Frame folders: natural order, every common pixel mode to RGB, clear errors."""

import numpy as np
import pytest
from PIL import Image

from star_jax.infer import frame_folder
from star_jax.errors import UserInputError


def _save(path, array, mode=None):
  Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)


def test_natural_order(tmp_path):
  for name in ["f10.png", "f2.png", "f1.png", "notes.txt", ".hidden.png"]:
    (tmp_path / name).write_bytes(b"")
  assert [p.name for p in frame_folder.list_frame_files(tmp_path)] == ["f1.png", "f2.png",
                                                                       "f10.png"]


def test_empty_and_missing_folders(tmp_path):
  with pytest.raises(UserInputError, match="contains no frames"):
    frame_folder.list_frame_files(tmp_path)
  with pytest.raises(UserInputError, match="does not exist"):
    frame_folder.list_frame_files(tmp_path / "missing")


def test_pixel_modes_become_rgb(tmp_path):
  rng = np.random.default_rng(0)
  rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
  gray = rgb[:, :, 0]
  _save(tmp_path / "gray.png", gray)
  _save(tmp_path / "rgba.png", np.dstack([rgb, np.full((6, 5), 7, np.uint8)]))
  Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(
      tmp_path / "palette.png")
  Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "gray16.png")
  np.testing.assert_array_equal(frame_folder.read_rgb_frame(tmp_path / "gray.png"),
                                np.dstack([gray] * 3))
  np.testing.assert_array_equal(frame_folder.read_rgb_frame(tmp_path / "rgba.png"), rgb)
  assert frame_folder.read_rgb_frame(tmp_path / "palette.png").shape == (6, 5, 3)
  np.testing.assert_array_equal(frame_folder.read_rgb_frame(tmp_path / "gray16.png"),
                                np.dstack([gray] * 3))


def test_size_mismatch_names_the_frame(tmp_path):
  _save(tmp_path / "a1.png", np.zeros((8, 8, 3), np.uint8))
  _save(tmp_path / "a2.png", np.zeros((8, 8, 3), np.uint8))
  _save(tmp_path / "a3.png", np.zeros((9, 8, 3), np.uint8))
  files = frame_folder.list_frame_files(tmp_path)
  with pytest.raises(UserInputError, match=r"a3\.png is 8x9 but .*a1\.png is 8x8"):
    frame_folder.check_same_size(files)


def test_corrupt_frame_is_named(tmp_path):
  (tmp_path / "bad.png").write_bytes(b"not a png")
  with pytest.raises(UserInputError, match=r"cannot read frame .*bad\.png"):
    frame_folder.read_rgb_frame(tmp_path / "bad.png")


def test_orientation_tags_are_applied_to_sizes_and_frames(tmp_path):
  """A phone-style JPEG stored 10x6 with orientation 6 (shown 6x10) next to an upright 6x10
  PNG: one size for the folder, and both frames upright."""
  rows, cols = np.mgrid[0:6, 0:10]
  stored = np.dstack([rows * 40, cols * 25, 255 - rows * 20 - cols * 10]).astype(np.uint8)
  exif = Image.Exif()
  exif[0x0112] = 6  # rotate 90 degrees clockwise to display
  Image.fromarray(stored).save(tmp_path / "f1.jpg", exif=exif.tobytes(), quality=100,
                               subsampling=0)
  upright = np.ascontiguousarray(np.rot90(stored, k=-1))
  _save(tmp_path / "f2.png", upright)
  files = frame_folder.list_frame_files(tmp_path)
  assert frame_folder.check_same_size(files) == (6, 10)
  first, second = frame_folder.iter_folder_frames(files)
  assert first.shape == second.shape == (10, 6, 3)
  np.testing.assert_array_equal(second, upright)
  assert np.abs(first.astype(int) - upright).max() <= 8  # JPEG of a smooth ramp at quality 100
  assert np.abs(first.astype(int) - stored.transpose(1, 0, 2)).max() > 50  # not just transposed
