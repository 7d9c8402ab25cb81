"""Display matrices: every quarter-turn rotation and mirror that PyAV writes is undone to the
picture a player shows; other matrices are refused in one line."""

import fractions

import numpy as np
import pytest

from star_jax.infer import orientation, video_file
from star_jax.errors import UserInputError
from tests.infer.conftest import moving_frames, write_clip

F = fractions.Fraction


def _displayed(stored, degrees, hflip, vflip):
  """What a player shows (PyAV's set_display_rotation: rotate ``degrees`` counter-clockwise,
  then mirror): written with numpy's rot90 / flips, independently of ``orientation``."""
  shown = np.rot90(stored, k=degrees // 90)
  if hflip:
    shown = shown[:, ::-1]
  if vflip:
    shown = shown[::-1]
  return shown


@pytest.mark.parametrize("degrees,hflip,vflip", [
    (90, False, False), (180, False, False), (270, False, False), (0, True, False),
    (0, False, True), (90, True, False), (90, False, True), (0, False, False)])
def test_decoded_frames_are_what_the_player_shows(tmp_path, degrees, hflip, vflip):
  stored = moving_frames(2, 64, 48)  # stored 64x48
  path = write_clip(tmp_path / "turned.mp4", stored, [F(0), F(1, 24)],
                    rotation=(degrees, hflip, vflip))
  expected = _displayed(stored[0], degrees, hflip, vflip)
  info = video_file.probe_video(path)
  assert (info.height, info.width) == expected.shape[:2]
  decoded = next(video_file.iter_video_frames(path))
  assert decoded.shape == expected.shape
  assert np.abs(decoded.astype(int) - expected).mean() < 3  # codec loss only
  # A wrong orientation would be far off: the photograph is not symmetric.
  assert np.abs(decoded.astype(int) - np.rot90(expected, 2)).mean() > 20


def test_matrix_semantics_and_descriptions():
  one = 1 << 16
  quarter = orientation.from_display_matrix((0, -one, 0, one, 0, 0, 0, 0, 1 << 30), "v")
  assert quarter.describe() == "rotated 90 degrees counter-clockwise"
  frame = np.arange(6).reshape(2, 3, 1)
  np.testing.assert_array_equal(quarter.apply(frame), np.rot90(frame))
  assert quarter.displayed_size(64, 48) == (48, 64)
  assert orientation.from_side_data(None, "v").is_identity


def test_a_non_quarter_turn_is_refused():
  half = int((1 << 16) * 0.7071)
  with pytest.raises(UserInputError, match=r"clip\.mp4: .*not a quarter-turn.*45\.0 degrees"):
    orientation.from_display_matrix((half, half, 0, -half, half, 0, 0, 0, 1 << 30),
                                    "video clip.mp4")
