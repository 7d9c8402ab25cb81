"""SOR solvers (spec §8) against a direct per-pixel transcription of the reference loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from star_jax.flow import linear_system, sor

ALPHA = 0.012


def _random_planes(height, width, seed):
  rng = np.random.default_rng(seed)
  system = linear_system.LinearSystem(
      a11=jnp.asarray(rng.random((height, width)) * 0.05),
      a12=jnp.asarray((rng.random((height, width)) - 0.5) * 0.02),
      a22=jnp.asarray(rng.random((height, width)) * 0.05),
      b1=jnp.asarray(rng.standard_normal((height, width)) * 0.01),
      b2=jnp.asarray(rng.standard_normal((height, width)) * 0.01),
      phi=jnp.asarray(rng.random((height, width)) * 5 + 0.5))
  return sor.coefficient_planes(system, ALPHA)


def _reference_sor(planes, num_sweeps, order):
  """The reference's update applied pixel by pixel in ``order`` for each sweep."""
  planes = np.asarray(planes)
  height, width = planes.shape[:2]
  du = np.zeros((height, width))
  dv = np.zeros((height, width))
  for _ in range(num_sweeps):
    for i, j in order:
      w_left, w_right, w_up, w_down, a12, b1, b2, step_u, step_v = planes[i, j]
      sigma_u = sigma_v = 0.0
      for exists, weight, (y, x) in [(j > 0, w_left, (i, j - 1)), (j < width - 1, w_right, (i, j + 1)),
                                     (i > 0, w_up, (i - 1, j)), (i < height - 1, w_down, (i + 1, j))]:
        if exists:
          sigma_u += weight * du[y, x]
          sigma_v += weight * dv[y, x]
      sigma_u *= -ALPHA
      sigma_v *= -ALPHA
      du[i, j] = (1 - sor.OMEGA) * du[i, j] + step_u * (b1 - (sigma_u + a12 * dv[i, j]))
      dv[i, j] = (1 - sor.OMEGA) * dv[i, j] + step_v * (b2 - (sigma_v + a12 * du[i, j]))
  return np.stack([du, dv], axis=-1)


@pytest.mark.parametrize("height,width,sweeps", [(5, 7, 3), (7, 4, 4), (3, 3, 1), (6, 6, 0)])
def test_wavefront_equals_lexicographic_sweeps(height, width, sweeps):
  with jax.enable_x64(True):
    planes = _random_planes(height, width, seed=height * width + sweeps)
    ours = np.asarray(sor.solve_wavefront(planes, sweeps, ALPHA))
  order = [(i, j) for i in range(height) for j in range(width)]
  np.testing.assert_allclose(ours, _reference_sor(planes, sweeps, order), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("height,width,sweeps", [(5, 7, 3), (6, 4, 2)])
def test_red_black_equals_even_then_odd_sweeps(height, width, sweeps):
  with jax.enable_x64(True):
    planes = _random_planes(height, width, seed=7)
    ours = np.asarray(sor.solve_red_black(planes, sweeps, ALPHA))
  pixels = [(i, j) for i in range(height) for j in range(width)]
  order = [p for p in pixels if sum(p) % 2 == 0] + [p for p in pixels if sum(p) % 2 == 1]
  np.testing.assert_allclose(ours, _reference_sor(planes, sweeps, order), rtol=1e-12, atol=1e-15)
  lexicographic = _reference_sor(planes, sweeps, pixels)
  assert np.abs(ours - lexicographic).max() > 1e-9  # a different update order really differs
