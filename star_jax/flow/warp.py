"""Warping frame 2 towards frame 1 along a flow (spec §5 bilinear, §10 bicubic).

Both warps sample image 2 at (x, y) = (j + u, i + v). A sample outside [0, W-1] x [0, H-1]
(strict test, so x = W-1 is inside) takes frame 1's own value at (i, j): the method has no
occlusion mask, and copying frame 1 makes the temporal difference vanish there.
"""

import jax.numpy as jnp

from star_jax.flow import resample


def _sample_positions(u: jnp.ndarray, v: jnp.ndarray):
  """Sample positions x, y and the "outside" mask for an (H, W) flow."""
  height, width = u.shape
  x = jnp.arange(width, dtype=u.dtype)[None, :] + u
  y = jnp.arange(height, dtype=v.dtype)[:, None] + v
  outside = (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
  return x, y, outside


def _gather(image: jnp.ndarray, rows: jnp.ndarray, cols: jnp.ndarray) -> jnp.ndarray:
  """image[rows, cols] for (H, W) integer index maps; result (H, W, C)."""
  width = image.shape[1]
  flat = image.reshape(-1, image.shape[-1])
  return flat[rows * width + cols]


def warp_bilinear(features1: jnp.ndarray, features2: jnp.ndarray, u: jnp.ndarray,
                  v: jnp.ndarray) -> jnp.ndarray:
  """Bilinear warp of ``features2`` (H, W, C) by (u, v); outside samples copy ``features1``."""
  height, width = u.shape
  x, y, outside = _sample_positions(u, v)
  # Inside, x >= 0 so trunc = floor; outside samples are clipped only to keep indices valid.
  x0 = jnp.clip(jnp.floor(x), 0, width - 1)
  y0 = jnp.clip(jnp.floor(y), 0, height - 1)
  fx = jnp.clip(x - x0, 0, 1)[..., None]
  fy = jnp.clip(y - y0, 0, 1)[..., None]
  x0 = x0.astype(jnp.int32)
  y0 = y0.astype(jnp.int32)
  x1 = jnp.minimum(x0 + 1, width - 1)
  y1 = jnp.minimum(y0 + 1, height - 1)
  sampled = resample.bilinear_combine(
      _gather(features2, y0, x0), _gather(features2, y1, x0),
      _gather(features2, y0, x1), _gather(features2, y1, x1), fx, fy)
  return jnp.where(outside[..., None], features1, sampled)


def _catmull_rom_weights(t: jnp.ndarray):
  """Keys cubic-convolution weights (a = -0.5) for the taps at offsets -1, 0, 1, 2."""
  t2 = t * t
  t3 = t2 * t
  return ((-t3 + 2 * t2 - t) * 0.5, (3 * t3 - 5 * t2 + 2) * 0.5,
          (-3 * t3 + 4 * t2 + t) * 0.5, (t3 - t2) * 0.5)


def warp_bicubic(image1: jnp.ndarray, image2: jnp.ndarray, u: jnp.ndarray,
                 v: jnp.ndarray) -> jnp.ndarray:
  """``im2W``: bicubic (Catmull-Rom) warp of ``image2`` by (u, v), clamped to [0, 1].

  Catmull-Rom on a replicate-padded image is exactly the reference's bicubic Hermite patch with
  central-difference slopes. Outside samples take ``image1``'s value; the clamp comes last.
  """
  height, width = u.shape
  x, y, outside = _sample_positions(u, v)
  x0 = jnp.clip(jnp.floor(x), 0, width - 1)
  y0 = jnp.clip(jnp.floor(y), 0, height - 1)
  wx = _catmull_rom_weights((x - x0)[..., None])
  wy = _catmull_rom_weights((y - y0)[..., None])
  x0 = x0.astype(jnp.int32)
  y0 = y0.astype(jnp.int32)
  cols = [jnp.clip(x0 + k, 0, width - 1) for k in (-1, 0, 1, 2)]
  rows = [jnp.clip(y0 + k, 0, height - 1) for k in (-1, 0, 1, 2)]
  sampled = None
  for row, weight_y in zip(rows, wy):
    along_x = None
    for col, weight_x in zip(cols, wx):
      term = _gather(image2, row, col) * weight_x
      along_x = term if along_x is None else along_x + term
    term = along_x * weight_y
    sampled = term if sampled is None else sampled + term
  return jnp.clip(jnp.where(outside[..., None], image1, sampled), 0, 1)
