"""The linearised Euler-Lagrange system of one fixed-point iteration (spec §6, §7).

Per pixel the increment (du, dv) solves
  (A11 + 0.05a) du + A12 dv + a L_phi(du) = B1,   B1 = -b1 - a L_phi(u)
  A12 du + (A22 + 0.05a) dv + a L_phi(dv) = B2,   B2 = -b2 - a L_phi(v)
with Charbonnier data weights psi (per feature channel) and smoothness weights phi (per pixel),
both from the reference's formulas. All five feature channels are averaged, not summed (quirk
Q4): summing would make the smoothness five times weaker.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from star_jax.flow import filters

# Charbonnier epsilon^2 of the data and smoothness penalties (epsilon = 0.001).
EPSILON_SQ = 0.001 ** 2
# Weights of frame 1 and warped frame 2 in the image whose gradient gives I_x, I_y.
FRAME1_BLEND = 0.4
FRAME2_BLEND = 0.6


class Derivatives(NamedTuple):
  """Spatial and temporal derivatives, each (H, W, F) over the feature channels."""
  ix: jnp.ndarray
  iy: jnp.ndarray
  it: jnp.ndarray


class LinearSystem(NamedTuple):
  """Channel-averaged coefficients and right-hand sides (H, W), and the smoothness weights."""
  a11: jnp.ndarray
  a12: jnp.ndarray
  a22: jnp.ndarray
  b1: jnp.ndarray
  b2: jnp.ndarray
  phi: jnp.ndarray


def presmooth(features: jnp.ndarray) -> jnp.ndarray:
  """The 5-tap [0.02, 0.11, 0.74, 0.11, 0.02] smoothing applied before differentiating."""
  return filters.correlate_xy(features, filters.PRESMOOTH_TAPS)


def derivatives(smoothed1: jnp.ndarray, warped2: jnp.ndarray) -> Derivatives:
  """I_x, I_y from 0.4*S1 + 0.6*S2 and I_t = S2 - S1; ``smoothed1`` is presmooth(F1)."""
  smoothed2 = presmooth(warped2)
  blend = smoothed1 * FRAME1_BLEND + smoothed2 * FRAME2_BLEND
  return Derivatives(filters.derivative_x(blend), filters.derivative_y(blend),
                     smoothed2 - smoothed1)


def _channel_mean(values: jnp.ndarray) -> jnp.ndarray:
  """Mean over the last axis, summed in channel order and then divided, like the reference."""
  total = values[..., 0]
  for c in range(1, values.shape[-1]):
    total = total + values[..., c]
  return total / values.shape[-1]


def _forward_difference(field: jnp.ndarray, axis: int) -> jnp.ndarray:
  """f[p + 1] - f[p] along ``axis`` of an (H, W) field, 0 on the last row/column."""
  n = field.shape[axis]
  ahead = jax.lax.slice_in_dim(field, 1, n, axis=axis)
  here = jax.lax.slice_in_dim(field, 0, n - 1, axis=axis)
  pad = [(0, 0), (0, 0)]
  pad[axis] = (0, 1)
  return jnp.pad(ahead - here, pad)


def smoothness_weights(u: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
  """phi = 0.5 / sqrt(u_x^2 + u_y^2 + v_x^2 + v_y^2 + eps^2) from one-sided differences."""
  u_x, u_y = _forward_difference(u, 1), _forward_difference(u, 0)
  v_x, v_y = _forward_difference(v, 1), _forward_difference(v, 0)
  magnitude = u_x * u_x + u_y * u_y + v_x * v_x + v_y * v_y
  return 0.5 / jnp.sqrt(magnitude + EPSILON_SQ)


def weighted_laplacian(field: jnp.ndarray, phi: jnp.ndarray) -> jnp.ndarray:
  """L_phi(f)(p) = sum over existing 4-neighbours q of w_pq (f(p) - f(q)).

  The edge to the right/lower neighbour carries phi of the left/upper pixel (quirk Q10), so the
  flux through each edge is phi * forward difference and the border is zero-flux (Neumann).
  """
  flux_x = _forward_difference(field, 1) * phi
  flux_y = _forward_difference(field, 0) * phi
  flux_x_left = jnp.pad(flux_x[:, :-1], [(0, 0), (1, 0)])
  flux_y_up = jnp.pad(flux_y[:-1, :], [(1, 0), (0, 0)])
  return ((-flux_x + flux_x_left) - flux_y) + flux_y_up


def build_system(d: Derivatives, u: jnp.ndarray, v: jnp.ndarray, du: jnp.ndarray,
                 dv: jnp.ndarray, alpha: float) -> LinearSystem:
  """Coefficients of one inner fixed-point iteration at the current increment (du, dv).

  psi comes from the residual linearised at (du, dv) and phi from (u + du, v + dv); the
  right-hand-side Laplacians always use (u, v). With the first (or only) inner iteration,
  du = dv = 0, which reproduces the reference's special case exactly.
  """
  phi = smoothness_weights(u + du, v + dv)
  residual = d.it + d.ix * du[..., None] + d.iy * dv[..., None]
  psi = 1 / (2 * jnp.sqrt(residual * residual + EPSILON_SQ))
  psi_ix = psi * d.ix
  psi_iy = psi * d.iy
  b1 = _channel_mean(psi_ix * d.it)
  b2 = _channel_mean(psi_iy * d.it)
  return LinearSystem(
      a11=_channel_mean(psi_ix * d.ix),
      a12=_channel_mean(psi_ix * d.iy),
      a22=_channel_mean(psi_iy * d.iy),
      b1=-b1 - alpha * weighted_laplacian(u, phi),
      b2=-b2 - alpha * weighted_laplacian(v, phi),
      phi=phi)
