"""Frame reading, mod-crop, the release's bicubic LR and normalisation."""

import numpy as np
import pytest
from PIL import Image

from star_jax.data import frames


def _random_frame(height, width, seed=0):
  return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_write_then_read_is_lossless(tmp_path):
  frame = _random_frame(13, 17)
  frames.write_frame(tmp_path / "a" / "im1.png", frame)
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "a" / "im1.png"), frame)
  assert not list(tmp_path.glob("a/*.partial"))


def test_read_converts_grey_and_rgba_to_rgb(tmp_path):
  Image.fromarray(np.full((4, 5), 7, np.uint8)).save(tmp_path / "grey.png")
  Image.fromarray(np.full((4, 5, 4), 9, np.uint8)).save(tmp_path / "rgba.png")
  assert frames.read_frame(tmp_path / "grey.png").shape == (4, 5, 3)
  assert frames.read_frame(tmp_path / "rgba.png").shape == (4, 5, 3)


def test_missing_frame_error_names_the_file(tmp_path):
  path = tmp_path / "nowhere" / "im2.png"
  with pytest.raises(frames.FrameReadError, match="nowhere/im2.png") as error:
    frames.read_frame(path)
  assert error.value.path == path


@pytest.mark.parametrize("content", [b"not a png at all", "truncated"])
def test_corrupt_frame_error_names_the_file(tmp_path, content):
  path = tmp_path / "im1.png"
  if content == "truncated":
    frames.write_frame(path, _random_frame(32, 32))
    path.write_bytes(path.read_bytes()[:200])
  else:
    path.write_bytes(content)
  with pytest.raises(frames.FrameReadError, match="im1.png.*corrupt"):
    frames.read_frame(path)


def test_mod_crop_keeps_the_top_left_corner():
  frame = _random_frame(67, 99)
  cropped = frames.mod_crop(frame, 4)
  assert cropped.shape == (64, 96, 3)
  np.testing.assert_array_equal(cropped, frame[:64, :96])
  batch = np.stack([frame, frame])
  assert frames.mod_crop(batch, 8).shape == (2, 64, 96, 3)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_lr_is_the_release_pil_bicubic_of_the_mod_cropped_frame(scale):
  hr = _random_frame(67, 99, seed=scale)
  lr = frames.lr_from_hr(hr, scale)
  # The release: modcrop, then img.resize((int(w * 1/scale), int(h * 1/scale)), BICUBIC).
  width, height = 99 - 99 % scale, 67 - 67 % scale
  want = Image.fromarray(hr[:height, :width]).resize(
      (int(width * (1.0 / scale)), int(height * (1.0 / scale))), Image.BICUBIC)
  assert lr.shape == (67 // scale, 99 // scale, 3) and lr.dtype == np.uint8
  np.testing.assert_array_equal(lr, np.asarray(want))


def test_lr_of_a_smooth_frame_is_its_subsampling():
  """Bicubic downscaling of a linear ramp stays on the ramp (catches wrong kernels/offsets)."""
  ramp = np.tile(np.linspace(0, 252, 64), (32, 1))
  hr = np.round(np.dstack([ramp] * 3)).astype(np.uint8)
  lr = frames.lr_from_hr(hr, 4).astype(np.float64)
  centres = np.interp(np.arange(16) * 4 + 1.5, np.arange(64), ramp[0])
  np.testing.assert_allclose(lr[4, 2:-2, 0], centres[2:-2], atol=1.0)


def test_lr_rejects_float_input():
  with pytest.raises(ValueError, match="uint8"):
    frames.lr_from_hr(np.zeros((8, 8, 3), np.float32), 2)


def test_normalisation_is_imagenet_and_invertible():
  white = np.ones((1, 1, 3), np.float32)
  np.testing.assert_allclose(frames.normalize(white)[0, 0],
                             (1 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225],
                             rtol=1e-6)
  x = np.random.default_rng(1).random((5, 6, 3)).astype(np.float32)
  np.testing.assert_allclose(frames.denormalize(frames.normalize(x)), x, atol=1e-6)


def test_fused_uint8_normalisation_matches_the_two_step_one():
  frame = _random_frame(9, 11)
  np.testing.assert_allclose(frames.normalize_uint8(frame),
                             frames.normalize(frames.to_float(frame)), atol=1e-5)
  assert frames.normalize_uint8(frame).dtype == np.float32


def test_uint8_round_trip_clamps_and_rounds():
  frame = _random_frame(4, 4)
  np.testing.assert_array_equal(frames.to_uint8(frames.to_float(frame)), frame)
  np.testing.assert_array_equal(frames.to_uint8(np.array([-0.5, 0.499 / 255, 1.7])),
                                [0, 0, 255])
