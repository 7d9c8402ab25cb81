"""1-based bilinear resampling (spec §3.1)."""

import jax.numpy as jnp
import numpy as np

from star_jax.flow import resample


def _reference_resize(array, out_h, out_w, scale_y, scale_x):
  """Direct transcription of the spec's per-pixel rule."""
  h, w = array.shape[:2]
  out = np.zeros((out_h, out_w) + array.shape[2:])
  for qy in range(out_h):
    for qx in range(out_w):
      x, y = (qx + 1) / scale_x - 1, (qy + 1) / scale_y - 1
      x0, y0 = int(x), int(y)
      fx, fy = min(max(x - x0, 0), 1), min(max(y - y0, 0), 1)
      xs = [min(max(x0 + m, 0), w - 1) for m in (0, 1)]
      ys = [min(max(y0 + n, 0), h - 1) for n in (0, 1)]
      for m in (0, 1):
        for n in (0, 1):
          out[qy, qx] += array[ys[n], xs[m]] * abs(1 - m - fx) * abs(1 - n - fy)
  return out


def test_resize_matches_reference_rule_down_and_up():
  rng = np.random.default_rng(1)
  array = rng.random((12, 17, 2))
  for out_h, out_w, sy, sx in [(9, 12, 0.75, 0.75), (16, 22, 16 / 12, 22 / 17)]:
    ours = np.asarray(resample.resize(jnp.asarray(array, jnp.float32), out_h, out_w, sy, sx))
    np.testing.assert_allclose(ours, _reference_resize(array, out_h, out_w, sy, sx), atol=1e-6)


def test_upsampling_first_column_samples_minus_quarter_as_column_zero():
  array = jnp.arange(20, dtype=jnp.float32).reshape(4, 5, 1)
  up = np.asarray(resample.resize(array, 4, 7, 1.0, 7 / 5))
  # q_x = 0 samples x = 1/1.4 - 1 < 0, which truncates to 0 with fraction clamped to 0.
  np.testing.assert_array_equal(up[:, 0, 0], np.asarray(array)[:, 0, 0])
