"""Bilinear and bicubic warps (spec §5, §10)."""

import jax.numpy as jnp
import numpy as np

from star_jax.flow import warp


def _images():
  rng = np.random.default_rng(4)
  return (jnp.asarray(rng.random((6, 8, 2)), jnp.float32),
          jnp.asarray(rng.random((6, 8, 2)), jnp.float32))


def test_bilinear_integer_shift_and_outside_fallback():
  im1, im2 = _images()
  u = jnp.full((6, 8), 2.0)
  v = jnp.full((6, 8), -1.0)
  out = np.asarray(warp.warp_bilinear(im1, im2, u, v))
  # Inside: (i, j) reads im2[i - 1, j + 2]; rows 0 and columns 6, 7 fall outside -> im1.
  np.testing.assert_array_equal(out[1:, :6], np.asarray(im2)[:-1, 2:])
  np.testing.assert_array_equal(out[0], np.asarray(im1)[0])
  np.testing.assert_array_equal(out[:, 6:], np.asarray(im1)[:, 6:])


def test_bilinear_half_pixel_and_last_column_counts_as_inside():
  im1, im2 = _images()
  u = jnp.zeros((6, 8)).at[:, 0].set(7.0).at[:, 1].set(0.5)
  out = np.asarray(warp.warp_bilinear(im1, im2, u, jnp.zeros((6, 8))))
  np.testing.assert_array_equal(out[:, 0], np.asarray(im2)[:, 7])
  np.testing.assert_allclose(out[:, 1], 0.5 * (np.asarray(im2)[:, 1] + np.asarray(im2)[:, 2]),
                             rtol=1e-6)


def test_bicubic_is_catmull_rom_and_falls_back_and_clamps():
  im1, im2 = _images()
  zero = jnp.zeros((6, 8))
  np.testing.assert_allclose(np.asarray(warp.warp_bicubic(im1, im2, zero, zero)),
                             np.asarray(im2), atol=1e-7)
  # Half-pixel shift in x, row interior: Catmull-Rom = (-a0 + 9 a1 + 9 a2 - a3) / 16.
  half = jnp.full((6, 8), 0.5)
  out = np.asarray(warp.warp_bicubic(im1, im2, half, zero))
  a = np.asarray(im2)
  expected = (-a[:, 1:5] + 9 * a[:, 2:6] + 9 * a[:, 3:7] - a[:, 4:8]) / 16
  np.testing.assert_allclose(out[:, 2:6], np.clip(expected, 0, 1), atol=1e-6)
  np.testing.assert_array_equal(out[:, 7], np.asarray(im1)[:, 7])
  bright = warp.warp_bicubic(im1, im2 * 4, zero, zero)
  assert float(bright.max()) == 1.0
