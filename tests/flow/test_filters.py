"""Replicate-border filters (spec §0, §2)."""

import jax.numpy as jnp
import numpy as np

from star_jax.flow import filters


def test_derivative_of_ramp_shows_replicate_border():
  ramp = jnp.tile(jnp.arange(10, dtype=jnp.float32)[None, :, None], (3, 1, 1))
  dx = np.asarray(filters.derivative_x(ramp))[0, :, 0]
  np.testing.assert_allclose(dx[[0, 1, -2, -1]], [0.5, 13 / 12, 13 / 12, 0.5], rtol=1e-6)
  np.testing.assert_allclose(dx[2:-2], 1.0, rtol=1e-6)
  dy = np.asarray(filters.derivative_y(jnp.transpose(ramp, (1, 0, 2))))[:, 0, 0]
  np.testing.assert_allclose(dy, dx, rtol=1e-6)


def test_correlate_matches_direct_definition():
  rng = np.random.default_rng(0)
  array = rng.random((6, 9, 2))
  taps = (0.1, -0.3, 0.5, 0.2, 0.7)
  out = np.asarray(filters.correlate(jnp.asarray(array, jnp.float32), taps, filters.X_AXIS))
  expected = np.zeros_like(array)
  for j in range(9):
    for m, tap in zip(range(-2, 3), taps):
      expected[:, j] += tap * array[:, min(max(j + m, 0), 8)]
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_gaussian_taps_are_normalised_and_identity_for_zero_half_width():
  assert filters.gaussian_taps(1 / 3, 0) == (1.0,)
  taps = filters.gaussian_taps(4 / 3, 3)
  assert abs(sum(taps) - 1) < 1e-12 and taps == taps[::-1]
