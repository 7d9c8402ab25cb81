"""The release's network flow convention and the FR targets."""

import jax.numpy as jnp
import numpy as np

from star_jax.flow import fr_targets, to_network_input


def test_clip_scale_and_sign_flip():
  flow = np.array([[[0.0, 75.0], [-150.0, 300.0], [-400.0, 15.0]]], np.float32)
  expected = np.array([[[0.0, -0.5], [1.0, -1.0], [1.0, -0.1]]], np.float32)
  np.testing.assert_allclose(to_network_input(flow), expected, rtol=1e-6)
  out = to_network_input(jnp.asarray(flow))
  assert isinstance(out, jnp.ndarray)
  np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)


def test_fr_targets_sum_scaled_half_step_flows():
  rng = np.random.default_rng(0)
  f12, f23, f32, f21 = (rng.normal(0, 100, (4, 5, 2)).astype(np.float32) for _ in range(4))
  gt_f, gt_b = fr_targets(f12, f23, f32, f21)
  s = lambda f: -np.clip(f, -150, 150) / 150
  np.testing.assert_allclose(gt_f, s(f12) + s(f23), rtol=1e-6)
  np.testing.assert_allclose(gt_b, s(f32) + s(f21), rtol=1e-6)
