"""Middlebury colour coding of flow fields (Baker et al., "A Database and Evaluation
Methodology for Optical Flow", IJCV 2011).

Hue encodes direction and saturation encodes magnitude: the colour wheel runs through red,
yellow, green, cyan, blue, magenta in 55 steps (15, 6, 4, 11, 13, 6 between the six primaries,
so that perceptually similar hues get similar arc lengths), zero motion is white, and vectors
beyond the normalising radius are drawn darker.
"""

from typing import Optional

import numpy as np

# Steps between consecutive primaries: R->Y, Y->G, G->C, C->B, B->M, M->R.
_SEGMENTS = (15, 6, 4, 11, 13, 6)
# For each segment: the channel that changes, and whether it rises (1) or falls (0) towards the
# next primary; the other two channels hold the values of the start primary.
_PRIMARIES = ((1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 1, 1), (0, 0, 1), (1, 0, 1))


def colour_wheel() -> np.ndarray:
  """(55, 3) float RGB colours in [0, 1] around the wheel, starting at red."""
  colours = []
  for start, steps, end in zip(_PRIMARIES, _SEGMENTS, _PRIMARIES[1:] + _PRIMARIES[:1]):
    t = np.arange(steps)[:, None] / steps
    colours.append((1 - t) * np.asarray(start, float) + t * np.asarray(end, float))
  return np.concatenate(colours, axis=0)


def flow_to_colour(flow: np.ndarray, max_radius: Optional[float] = None) -> np.ndarray:
  """(H, W, 2) pixel flow -> (H, W, 3) uint8 RGB image.

  Magnitudes are divided by ``max_radius`` (default: the largest finite magnitude in the
  field); non-finite vectors are drawn black.
  """
  flow = np.asarray(flow, np.float64)
  if flow.ndim != 3 or flow.shape[-1] != 2:
    raise ValueError(f"flow must be (H, W, 2); got shape {flow.shape}")
  finite = np.all(np.isfinite(flow), axis=-1)
  u = np.where(finite, flow[..., 0], 0.0)
  v = np.where(finite, flow[..., 1], 0.0)
  radius = np.hypot(u, v)
  if max_radius is None:
    max_radius = float(radius.max())
  radius = radius / max(max_radius, np.finfo(np.float64).eps)
  wheel = colour_wheel()
  n = len(wheel)
  # Angle in [-1, 1] measured so that rightward motion (u > 0) is red.
  angle = np.arctan2(-v, -u) / np.pi
  position = (angle + 1) / 2 * (n - 1)
  k0 = np.floor(position).astype(int)
  k1 = (k0 + 1) % n
  fraction = (position - k0)[..., None]
  colour = (1 - fraction) * wheel[k0] + fraction * wheel[k1]
  inside = (radius <= 1)[..., None]
  colour = np.where(inside, 1 - radius[..., None] * (1 - colour), colour * 0.75)
  colour = np.where(finite[..., None], colour, 0.0)
  return np.rint(colour * 255).astype(np.uint8)
