"""The pixel conventions: ImageNet normalisation, [0, 1] and 8-bit conversions (NumPy and
JAX, also under jit), PSNR (one frame and per sample) and the bicubic baselines."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from star_jax import pixels


def _random_frame(height, width, seed=0):
  return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_normalisation_is_imagenet_and_invertible():
  white = np.ones((1, 1, 3), np.float32)
  np.testing.assert_allclose(pixels.normalize(white)[0, 0],
                             (1 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225],
                             rtol=1e-6)
  x = np.random.default_rng(1).random((5, 6, 3)).astype(np.float32)
  np.testing.assert_allclose(pixels.denormalize(pixels.normalize(x)), x, atol=1e-6)


def test_fused_uint8_normalisation_matches_the_two_step_one():
  frame = _random_frame(9, 11)
  np.testing.assert_allclose(pixels.normalize_uint8(frame),
                             pixels.normalize(pixels.to_float(frame)), atol=1e-5)
  assert pixels.normalize_uint8(frame).dtype == np.float32
  with pytest.raises(ValueError, match="uint8"):
    pixels.normalize_uint8(frame.astype(np.float32))


def test_uint8_round_trip_clamps_and_rounds():
  frame = _random_frame(4, 4)
  np.testing.assert_array_equal(pixels.to_uint8(pixels.to_float(frame)), frame)
  np.testing.assert_array_equal(pixels.to_uint8(np.array([-0.5, 0.499 / 255, 1.7])),
                                [0, 0, 255])


def test_network_output_to_8_bits_is_uint8_and_clamped():
  normalised = pixels.normalize(np.array([[[-0.2, 0.5, 1.3]]], np.float32))
  out = pixels.normalised_to_uint8(normalised)
  assert out.dtype == np.uint8 and isinstance(out, np.ndarray)
  np.testing.assert_array_equal(out, [[[0, 128, 255]]])
  unit = pixels.to_unit_range(normalised)
  assert unit.dtype == np.float32
  np.testing.assert_allclose(unit, [[[0.0, 0.5, 1.0]]], atol=1e-6)


def test_numpy_and_jax_give_the_same_values_also_under_jit():
  rng = np.random.default_rng(2)
  normalised = rng.normal(size=(2, 7, 5, 3)).astype(np.float32) * 2  # beyond [0, 1] too
  frame = _random_frame(7, 5)
  conversions = {"to_float": (pixels.to_float, frame),
                 "to_uint8": (pixels.to_uint8, pixels.denormalize(normalised)),
                 "normalize": (pixels.normalize, pixels.to_float(frame)),
                 "denormalize": (pixels.denormalize, normalised),
                 "to_unit_range": (pixels.to_unit_range, normalised),
                 "normalised_to_uint8": (pixels.normalised_to_uint8, normalised)}
  for name, (convert, value) in conversions.items():
    host = convert(value)
    assert isinstance(host, np.ndarray), name
    on_device = jax.jit(convert)(jnp.asarray(value))
    assert isinstance(on_device, jax.Array) and on_device.dtype == host.dtype, name
    np.testing.assert_allclose(np.asarray(on_device), host, atol=1e-6, err_msg=name)


def test_known_psnr_value():
  target = np.full((16, 16, 3), 100, np.uint8)
  prediction = target + np.uint8(5)  # MSE 25 everywhere
  assert pixels.psnr(prediction, target) == pytest.approx(10 * np.log10(255 ** 2 / 25))
  with pytest.raises(ValueError, match="shape"):
    pixels.psnr(prediction, target[:8])
  with pytest.raises(ValueError, match="uint8"):
    pixels.psnr(prediction.astype(np.float32), target.astype(np.float32))


def test_per_sample_psnr_matches_the_frame_psnr_and_floors_identical_samples():
  target = np.stack([_random_frame(12, 10, seed) for seed in range(3)])
  noise = np.random.default_rng(4).integers(-9, 10, size=target.shape)
  prediction = np.clip(target.astype(int) + noise, 0, 255).astype(np.uint8)
  prediction[2] = target[2]
  per_sample = jax.jit(pixels.psnr_per_sample)(jnp.asarray(prediction), jnp.asarray(target))
  assert per_sample.shape == (3,) and per_sample.dtype == jnp.float32
  for index in range(2):
    assert float(per_sample[index]) == pytest.approx(
        pixels.psnr(prediction[index], target[index]), abs=1e-4)
  assert float(per_sample[2]) == pytest.approx(10 * np.log10(255 ** 2 / pixels.MIN_MSE))
  assert np.isinf(pixels.psnr(prediction[2], target[2]))


def test_baselines_shapes_and_definitions():
  rng = np.random.default_rng(5)
  im1, im2 = (rng.random((2, 6, 8, 3)).astype(np.float32) for _ in range(2))
  base = pixels.baseline_predictions(im1, im2, 4)
  assert set(base) == set(pixels.BASELINES)
  assert base["h1"].shape == base["ht"].shape == (2, 24, 32, 3)
  np.testing.assert_allclose(base["l"], (im1 + im2) / 2, atol=1e-7)
  # ht is the upscale of the frames' mean (bicubic is linear); of a frame with itself, h1.
  np.testing.assert_allclose(base["ht"], pixels.bicubic_upscale((im1 + im2) / 2, 4), atol=1e-5)
  same = pixels.baseline_predictions(im1, im1, 4)
  np.testing.assert_array_equal(same["ht"], same["h1"])
  # It commutes with the ImageNet normalisation (the trainer's space vs the showcase's).
  normalised = pixels.baseline_predictions(pixels.normalize(im1), pixels.normalize(im2), 4)
  np.testing.assert_allclose(pixels.denormalize(normalised["ht"]), base["ht"], atol=1e-5)


def test_bicubic_upscale_is_pils_bicubic_to_one_level():
  """Same kernel as PIL's BICUBIC: on a photograph's 8-bit frame, within 1 level of PIL's
  float-mode resize everywhere (they round differently)."""
  photo = skimage_data.astronaut()[::8, ::8]
  ours = np.asarray(pixels.to_uint8(pixels.bicubic_upscale(pixels.to_float(photo)[None], 4)))[0]
  height, width = photo.shape[:2]
  pil = np.stack([np.asarray(Image.fromarray(photo[..., c].astype(np.float32)).resize(
      (4 * width, 4 * height), Image.BICUBIC)) for c in range(3)], axis=-1)
  pil = np.round(np.clip(pil, 0, 255)).astype(np.uint8)
  assert np.abs(ours.astype(int) - pil.astype(int)).max() <= 1
