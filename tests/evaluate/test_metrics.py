"""Our PSNR / SSIM / IE against scikit-image and dm-pix (kept libraries), and by hand."""

import dm_pix
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from star_jax import pixels
from star_jax.evaluate import metrics


def _pairs():
  rng = np.random.default_rng(0)
  noise = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
  yield noise, np.clip(noise.astype(int) + rng.integers(-40, 41, noise.shape), 0, 255).astype(
      np.uint8)
  photo = skimage_data.astronaut()[::4, ::4]  # 128x128 natural image
  blurred = ((photo.astype(np.float64)[:-1] + photo[1:]) / 2).round().astype(np.uint8)
  yield photo[:-1], blurred
  yield photo, np.roll(photo, 3, axis=1)


@pytest.mark.parametrize("index", range(3))
def test_ssim_matches_scikit_image_and_dm_pix(index):
  prediction, target = list(_pairs())[index]
  ours = metrics.ssim(prediction, target)
  reference = structural_similarity(prediction, target, channel_axis=-1, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, data_range=255)
  assert ours == pytest.approx(reference, abs=1e-10)
  pix = float(dm_pix.ssim(jnp.asarray(prediction, jnp.float32),
                          jnp.asarray(target, jnp.float32), max_val=255.0))
  assert ours == pytest.approx(pix, abs=1e-5)
  assert 0 < ours < 1


@pytest.mark.parametrize("index", range(3))
def test_psnr_and_ie(index):
  prediction, target = list(_pairs())[index]
  assert pixels.psnr(prediction, target) == pytest.approx(
      peak_signal_noise_ratio(target, prediction, data_range=255), abs=1e-10)
  ie = metrics.interpolation_error(prediction, target)
  assert ie == pytest.approx(np.abs(prediction.astype(int) - target.astype(int)).mean())


def test_identical_frames():
  frame = skimage_data.astronaut()[:64, :64]
  assert pixels.psnr(frame, frame) == float("inf")
  assert metrics.ssim(frame, frame) == pytest.approx(1.0)
  assert metrics.interpolation_error(frame, frame) == 0.0


def test_bad_inputs():
  frame = np.zeros((16, 16, 3), np.uint8)
  with pytest.raises(ValueError, match="shape"):
    pixels.psnr(frame, frame[:8])
  with pytest.raises(ValueError, match="uint8"):
    metrics.ssim(frame.astype(np.float32), frame.astype(np.float32))
  with pytest.raises(ValueError, match="smaller than"):
    metrics.ssim(frame[:8], frame[:8])


def _photo_and_bicubic(scale):
  photo = skimage_data.astronaut()[::2, ::2][:128, :160]  # (128, 160, 3), natural content
  small = np.asarray(Image.fromarray(photo).resize((160 // scale, 128 // scale), Image.BICUBIC))
  return photo, np.asarray(Image.fromarray(small).resize((160, 128), Image.BICUBIC))


def test_grid_energy_ratio_bicubic_near_one_checkerboard_high():
  photo, bicubic = _photo_and_bicubic(4)
  clean = metrics.grid_energy_ratio(bicubic, photo, 4)
  assert 0.8 < clean < 1.2
  # A period-4 pattern of +-6 grey levels (what an untrained transposed conv leaves).
  pattern = np.tile(np.array([[6, -6, 6, -6], [-6, 6, -6, 6], [6, 6, -6, -6],
                              [-6, -6, 6, 6]])[:, :, None], (32, 40, 3))
  grid = np.clip(bicubic.astype(int) + pattern, 0, 255).astype(np.uint8)
  assert metrics.grid_energy_ratio(grid, photo, 4) > 3 * clean
  # Smooth (low-frequency) error of the same size leaves the ratio where bicubic has it.
  ramp = (6 * np.sin(np.arange(160) / 20.0))[None, :, None].round().astype(int)
  smooth = np.clip(bicubic.astype(int) + ramp, 0, 255).astype(np.uint8)
  assert abs(metrics.grid_energy_ratio(smooth, photo, 4) - clean) < 0.2
  batch = metrics.grid_energy_ratio(np.stack([bicubic, grid]), np.stack([photo, photo]), 4)
  assert clean < batch < metrics.grid_energy_ratio(grid, photo, 4)


def test_grid_energy_ratio_refuses_bad_inputs():
  photo, bicubic = _photo_and_bicubic(4)
  with pytest.raises(ValueError, match="divide the frame size 160x128, got 3"):
    metrics.grid_energy_ratio(bicubic, photo, 3)
  with pytest.raises(ValueError, match="differ in shape"):
    metrics.grid_energy_ratio(bicubic[:64], photo, 4)
  with pytest.raises(ValueError, match="uint8"):
    metrics.grid_energy_ratio(bicubic.astype(np.float32), photo, 4)
  with pytest.raises(ValueError, match="no energy"):
    metrics.grid_energy_ratio(photo * 0, photo * 0, 4)


def test_rgb_to_y_by_hand_and_against_scikit_image():
  frame = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255],
                     [10, 200, 30]]], np.uint8)
  # MATLAB rgb2ycbcr: 16 + (65.481 R + 128.553 G + 24.966 B) / 255, by hand.
  expected = [235.0, 16.0, 16 + 65.481, 16 + 128.553, 16 + 24.966,
              16 + (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255]
  np.testing.assert_allclose(metrics.rgb_to_y(frame)[0], expected, rtol=0, atol=1e-12)
  photo = skimage_data.astronaut()[::4, ::4]
  np.testing.assert_allclose(metrics.rgb_to_y(photo), rgb2ycbcr(photo)[..., 0], atol=1e-9)


@pytest.mark.parametrize("index", range(3))
def test_psnr_y_and_ssim_y_match_scikit_image_on_luma(index):
  prediction, target = list(_pairs())[index]
  y_pred = rgb2ycbcr(prediction)[..., 0]  # float64, not rounded
  y_target = rgb2ycbcr(target)[..., 0]
  assert metrics.psnr_y(prediction, target) == pytest.approx(
      peak_signal_noise_ratio(y_target, y_pred, data_range=255), abs=1e-9)
  reference = structural_similarity(y_pred, y_target, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
  ours = metrics.ssim_y(prediction, target)
  assert ours == pytest.approx(reference, abs=1e-10)
  assert 0 < ours < 1
  assert metrics.psnr_y(target, target) == float("inf")
  assert metrics.ssim_y(target, target) == pytest.approx(1.0)


def test_luma_metrics_refuse_bad_frames():
  frame = skimage_data.astronaut()[:32, :32]
  with pytest.raises(ValueError, match="uint8"):
    metrics.psnr_y(frame.astype(np.float32), frame)
  with pytest.raises(ValueError, match="smaller than the 11x11"):
    metrics.ssim_y(frame[:8, :8], frame[:8, :8])
