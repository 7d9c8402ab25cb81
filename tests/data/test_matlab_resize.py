"""MATLAB-style antialiased bicubic downscaling (the field's LR frames) against an independent
implementation (ResizeRight, with MATLAB's symmetric border) and against kernel weights
written out here from MATLAB's documented definition."""

import numpy as np
import pytest
from resize_right import interp_methods, resize_right

from star_jax.data.frames import (lr_from_hr, matlab_bicubic_downscale,
                                  matlab_downscale_matrix)


def _frame(height, width, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)


@pytest.mark.parametrize("scale", [2, 4])
def test_matches_resize_right_with_symmetric_border(scale):
  frame = _frame(48, 80)
  theirs = resize_right.resize(frame.astype(np.float64), scale_factors=[1 / scale, 1 / scale, 1],
                               interp_method=interp_methods.cubic, antialiasing=True,
                               pad_mode="symmetric")
  ours = matlab_bicubic_downscale(frame, scale)
  assert ours.shape == (48 // scale, 80 // scale, 3) and ours.dtype == np.uint8
  rounded = np.floor(np.clip(theirs, 0, 255) + 0.5)
  np.testing.assert_array_equal(ours, rounded)
  assert np.max(np.abs(ours - theirs)) <= 0.5


def test_weights_by_hand_for_x4():
  # MATLAB: output sample i (0-based here) sits at input position 4 i + 1.5; the
  # antialiased kernel is cubic(d / 4) / 4 with Keys' cubic (a = -0.5):
  #   |x| <= 1: 1.5|x|^3 - 2.5|x|^2 + 1;  1 < |x| <= 2: -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2.
  # An interior row's 16 non-zero weights are symmetric about the centre; the first eight
  # (distances 7.5, 6.5, ..., 0.5) are, by hand:
  half = []
  for d in (7.5, 6.5, 5.5, 4.5, 3.5, 2.5, 1.5, 0.5):
    x = d / 4
    k = (1.5 * x ** 3 - 2.5 * x ** 2 + 1) if x <= 1 else (-0.5 * x ** 3 + 2.5 * x ** 2 - 4 * x + 2)
    half.append(k / 4)
  expected_row = np.array(half + half[::-1])
  assert abs(expected_row.sum() - 1) < 1e-12  # already normalised in the interior
  matrix = matlab_downscale_matrix(32, 4)
  assert matrix.shape == (8, 32)
  np.testing.assert_allclose(matrix[3, 14 - 8 + 0:14 + 8], expected_row, atol=1e-15)
  assert np.count_nonzero(matrix[3]) == 16
  # Row 0 reaches 6 samples before the frame: mirrored (-1 -> 0, -2 -> 1, ...), they add to
  # the weights of samples 0..5 (MATLAB's symmetric border).
  window = expected_row  # positions -6 .. 9
  folded = np.zeros(32)
  for position, w in zip(range(-6, 10), window):
    folded[position if position >= 0 else -1 - position] += w
  np.testing.assert_allclose(matrix[0], folded / folded.sum(), atol=1e-15)


def test_constant_frame_stays_constant_and_rounding():
  frame = np.full((16, 24, 3), 200, np.uint8)
  np.testing.assert_array_equal(matlab_bicubic_downscale(frame, 4), 200)


def test_lr_from_hr_methods_and_errors():
  frame = _frame(50, 66)  # mod-cropped to 48x64 first
  np.testing.assert_array_equal(lr_from_hr(frame, 4, method="matlab"),
                                matlab_bicubic_downscale(frame[:48, :64], 4))
  pil = lr_from_hr(frame, 4)
  matlab = lr_from_hr(frame, 4, method="matlab")
  assert pil.shape == matlab.shape == (12, 16, 3)
  # Same kernel: the interior agrees to about one level, the borders do not.
  assert np.max(np.abs(pil[3:-3, 3:-3].astype(int) - matlab[3:-3, 3:-3])) <= 2
  with pytest.raises(ValueError, match="method"):
    lr_from_hr(frame, 4, method="lanczos")
  with pytest.raises(ValueError, match="multiple of the scale"):
    matlab_bicubic_downscale(frame, 4)
  with pytest.raises(ValueError, match="uint8"):
    matlab_bicubic_downscale(frame.astype(np.float32), 4)
