"""Replicate-border 1-D correlations and the fixed filter taps of the coarse-to-fine method.

Spec §0, §2, §3 and §6. Every filter is a correlation whose products are accumulated from the
most negative offset upward, in the same order as the reference loops, so that in float64 the
results can agree with pyflow bit for bit and in float32 stay within rounding of it.
Arrays are channel-last: (..., H, W, C) images filter along axis -2 (x) and -3 (y).
"""

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

# Five-tap derivative, taps for offsets -2..2; the reference divides the integer taps by 12.
DERIVATIVE_TAPS = tuple(t / 12 for t in (1.0, -8.0, 0.0, 8.0, -1.0))
# Pre-smoothing applied to both frames before the derivatives of each outer iteration (§6).
PRESMOOTH_TAPS = (0.02, 0.11, 0.74, 0.11, 0.02)

X_AXIS = -2
Y_AXIS = -3


def gaussian_taps(sigma: float, half_width: int) -> tuple:
  """Normalised Gaussian taps for offsets -r..r, computed on the host in float64.

  The denominator is formed as sigma*sigma*2 and the sum accumulated left to right, as the
  reference does, so the taps are the same doubles.
  """
  two_sigma_sq = sigma * sigma * 2
  raw = [math.exp(-float(m * m) / two_sigma_sq) for m in range(-half_width, half_width + 1)]
  total = 0.0
  for value in raw:
    total += value
  return tuple(value / total for value in raw)


def correlate(array: jnp.ndarray, taps: Sequence[float], axis: int) -> jnp.ndarray:
  """Correlation with odd-length ``taps`` along ``axis`` with a replicate border."""
  radius = (len(taps) - 1) // 2
  n = array.shape[axis]
  axis = axis % array.ndim
  # One gather of every tap's clamped index (n, taps) is the replicate border; a single
  # constant-index gather compiles and runs faster on XLA:CPU than per-tap slices or padding.
  index = np.clip(np.arange(n)[:, None] + np.arange(-radius, radius + 1)[None, :], 0, n - 1)
  windows = jnp.take(array, index, axis=axis)
  out = None
  for k, tap in enumerate(taps):
    term = jax.lax.index_in_dim(windows, k, axis=axis + 1, keepdims=False) * jnp.asarray(
        tap, array.dtype)
    out = term if out is None else out + term
  return out


def correlate_xy(array: jnp.ndarray, taps: Sequence[float]) -> jnp.ndarray:
  """Separable filtering: along x (within rows) first, then along y, with the same taps."""
  return correlate(correlate(array, taps, X_AXIS), taps, Y_AXIS)


def derivative_x(array: jnp.ndarray) -> jnp.ndarray:
  return correlate(array, DERIVATIVE_TAPS, X_AXIS)


def derivative_y(array: jnp.ndarray) -> jnp.ndarray:
  return correlate(array, DERIVATIVE_TAPS, Y_AXIS)
