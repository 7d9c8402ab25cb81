"""Bilinear resizing on the reference's "1-based" grid (spec §3.1).

Used for the pyramid and for upsampling the flow between levels. Output pixel q samples the
source at (q + 1) / s - 1 -- not the centre-aligned (q + 0.5) / s - 0.5 -- which shifts coarse
levels and upsampled flows by a fraction of a pixel (quirk Q2, the largest innocent-looking one).
Sizes are static, so the sample positions and weights are computed once on the host in float64.
"""

from typing import Tuple

import jax.numpy as jnp
import numpy as np


def _axis_samples(n_out: int, n_in: int, scale: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Neighbour indices (x0, x1) and fraction f along one axis, with the reference's rules.

  x0 = trunc(x) (C int cast), f = clamp(x - x0, 0, 1), both neighbours clamped to [0, n-1].
  """
  position = (np.arange(n_out, dtype=np.float64) + 1) / scale - 1
  base = np.trunc(position)
  fraction = np.clip(position - base, 0.0, 1.0)
  base = base.astype(np.int64)
  return np.clip(base, 0, n_in - 1), np.clip(base + 1, 0, n_in - 1), fraction


def bilinear_combine(a00, a01, a10, a11, fx, fy):
  """Bilinear blend with corners summed as (x0,y0), (x0,y1), (x1,y0), (x1,y1) (spec §14).

  Weights are |1-m-fx| * |1-n-fy| for corner (x0+m, y0+n), i.e. x factor times y factor.
  ``a01`` is the corner at (x0, y1) and ``a10`` the one at (x1, y0).
  """
  gx = 1 - fx
  gy = 1 - fy
  return ((a00 * (gx * gy) + a01 * (gx * fy)) + a10 * (fx * gy)) + a11 * (fx * fy)


def resize(array: jnp.ndarray, out_height: int, out_width: int, scale_y: float,
           scale_x: float) -> jnp.ndarray:
  """Resize an (H, W, C) array to (out_height, out_width, C) with per-axis scale factors."""
  height, width = array.shape[0], array.shape[1]
  y0, y1, fy = _axis_samples(out_height, height, scale_y)
  x0, x1, fx = _axis_samples(out_width, width, scale_x)
  rows0 = array[y0]
  rows1 = array[y1]
  dtype = array.dtype
  fx = jnp.asarray(fx, dtype)[None, :, None]
  fy = jnp.asarray(fy, dtype)[:, None, None]
  # Weights are formed from float64 fractions cast to the working dtype, then combined in it.
  return bilinear_combine(rows0[:, x0], rows1[:, x0], rows0[:, x1], rows1[:, x1], fx, fy)
