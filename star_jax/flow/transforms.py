"""The training flips/rotation applied to flow fields, so cached flows need no recomputation.

Flipping or rotating both frames moves each flow vector with its pixel and mirrors its
direction: a top-bottom flip negates v, a left-right mirror negates u, a 180 degree rotation
negates both. Sign flips commute with the network scaling, so these act on pixel flows and on
network-convention flows alike; the layout is (..., H, W, 2) with channels (u, v), NumPy or JAX.
(The variational solver itself is not exactly flip-equivariant -- its SOR sweeps run in
row-major order -- so a transformed flow differs from one recomputed on flipped frames by
solver tolerance only.)
"""

import jax
import jax.numpy as jnp
import numpy as np

_ROWS, _COLS = -3, -2


def _xp(flow):
  return jnp if isinstance(flow, jax.Array) else np


def _signed(flow, u_sign: float, v_sign: float):
  xp = _xp(flow)
  return flow * xp.asarray([u_sign, v_sign], dtype=flow.dtype)


def flip_ud(flow):
  """Top-bottom flip: rows reversed, v negated."""
  return _signed(_xp(flow).flip(flow, axis=_ROWS), 1.0, -1.0)


def flip_lr(flow):
  """Left-right mirror: columns reversed, u negated."""
  return _signed(_xp(flow).flip(flow, axis=_COLS), -1.0, 1.0)


def rot180(flow):
  """180 degree rotation: rows and columns reversed, u and v negated."""
  return _signed(_xp(flow).flip(flow, axis=(_ROWS, _COLS)), -1.0, -1.0)
