"""Feature channels (spec §2)."""

import jax.numpy as jnp
import numpy as np

from star_jax.flow import features, filters


def test_rgb_features_are_luminance_gradients_and_colour_differences():
  rng = np.random.default_rng(2)
  image = jnp.asarray(rng.random((8, 10, 3)), jnp.float32)
  out = np.asarray(features.image_features(image))
  r, g, b = (np.asarray(image[..., c]) for c in range(3))
  luminance = 0.299 * r + 0.587 * g + 0.114 * b
  np.testing.assert_allclose(out[..., 0], luminance, rtol=1e-6)
  np.testing.assert_allclose(
      out[..., 1], np.asarray(filters.derivative_x(jnp.asarray(luminance)[..., None]))[..., 0],
      atol=1e-6)
  np.testing.assert_allclose(out[..., 3], g - r, atol=1e-7)
  np.testing.assert_allclose(out[..., 4], g - b, atol=1e-7)


def test_bgr_weights_and_other_channel_counts():
  image = jnp.asarray(np.random.default_rng(3).random((5, 6, 3)), jnp.float32)
  out = np.asarray(features.image_features(image, features.BGR_LUMINANCE))
  expected = 0.114 * image[..., 0] + 0.587 * image[..., 1] + 0.299 * image[..., 2]
  np.testing.assert_allclose(out[..., 0], expected, rtol=1e-6)
  grey = features.image_features(image[..., :1])
  assert grey.shape == (5, 6, 3)
  np.testing.assert_array_equal(np.asarray(grey[..., 0]), np.asarray(image[..., 0]))
  two = features.image_features(image[..., :2])
  np.testing.assert_array_equal(np.asarray(two), np.asarray(image[..., :2]))
