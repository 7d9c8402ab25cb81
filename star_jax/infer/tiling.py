"""Overlapping tiles in LR space and seam-free blending of their outputs.

A frame too large for one forward pass is cut into equal tiles (one compiled shape) that
overlap by at least ``overlap`` LR pixels, spread evenly so that no tile sticks out past the
frame. Each output tile (at the output's own scale: ``scale`` for ht/h1/h2, 1 for l) is
weighted across every overlap it shares with a neighbour: 0 over the quarter of the overlap
nearest its own edge, a raised-cosine ramp over the middle half, 1 beyond (and 1 up to the
frame border); the accumulated sum is divided by the summed weights. The outer quarter is
dropped because that is where the network's zero padding at the tile edge changes the
output (for a release-style model the difference to the untiled output falls from ~1 at the
edge to ~1e-3 at 8 LR px and to float rounding by 16 px); the ramp then hides any
remaining step, and the weights of two neighbours add to 1 across their overlap.
"""

import dataclasses
import math
from typing import List

import numpy as np


@dataclasses.dataclass(frozen=True)
class Tile:
  """One tile in LR pixels of the (padded) frame, plus the overlap with each neighbour
  (0 on a side that lies on the frame border)."""
  top: int
  left: int
  height: int
  width: int
  overlap_top: int
  overlap_bottom: int
  overlap_left: int
  overlap_right: int


def axis_starts(length: int, tile: int, overlap: int) -> List[int]:
  """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with consecutive
  tiles overlapping by at least ``overlap``, spaced as evenly as integers allow."""
  if tile >= length:
    return [0]
  if overlap >= tile:
    raise ValueError(f"tile overlap {overlap} must be smaller than the tile size {tile}")
  count = math.ceil((length - overlap) / (tile - overlap))
  span = length - tile
  return [round(index * span / (count - 1)) for index in range(count)]


def plan_tiles(height: int, width: int, tile_height: int, tile_width: int,
               overlap: int) -> List[Tile]:
  """Row-major tiles covering an LR frame of ``height x width``."""
  tile_height, tile_width = min(tile_height, height), min(tile_width, width)
  tops = axis_starts(height, tile_height, overlap)
  lefts = axis_starts(width, tile_width, overlap)

  def overlaps(starts, size, index):
    before = starts[index - 1] + size - starts[index] if index > 0 else 0
    after = starts[index] + size - starts[index + 1] if index + 1 < len(starts) else 0
    return before, after

  tiles = []
  for row, top in enumerate(tops):
    overlap_top, overlap_bottom = overlaps(tops, tile_height, row)
    for column, left in enumerate(lefts):
      overlap_left, overlap_right = overlaps(lefts, tile_width, column)
      tiles.append(Tile(top, left, tile_height, tile_width, overlap_top, overlap_bottom,
                        overlap_left, overlap_right))
  return tiles


def _rising_edge(overlap: int) -> np.ndarray:
  """Weights of the later tile across an overlap of ``overlap`` samples: 0 over the first
  quarter, a raised cosine (1 - cos(pi t)) / 2 over the middle half, 1 over the last quarter.
  The earlier tile gets ``1 - this``, so the two always sum to 1."""
  margin = overlap // 4
  ramp = overlap - 2 * margin
  t = (np.arange(ramp) + 0.5) / ramp
  return np.concatenate([np.zeros(margin), 0.5 - 0.5 * np.cos(np.pi * t), np.ones(margin)])


def ramp_weights(size: int, overlap_before: int, overlap_after: int) -> np.ndarray:
  """1-D weights of a tile of ``size`` samples sharing ``overlap_before`` / ``overlap_after``
  samples with its neighbours (0 at a frame border: weight 1 up to the border)."""
  weights = np.ones(size, np.float64)
  if overlap_before:
    weights[:overlap_before] *= _rising_edge(overlap_before)
  if overlap_after:
    weights[size - overlap_after:] *= 1.0 - _rising_edge(overlap_after)
  return weights


class TileBlender:
  """Accumulates weighted output tiles of one frame at ``factor`` x the LR tile grid."""

  def __init__(self, height: int, width: int, factor: int, channels: int = 3):
    self.factor = factor
    self._sum = np.zeros((height * factor, width * factor, channels), np.float32)
    self._weight = np.zeros((height * factor, width * factor, 1), np.float32)

  def add(self, tile: Tile, output: np.ndarray) -> None:
    f = self.factor
    weight = np.outer(
        ramp_weights(tile.height * f, tile.overlap_top * f, tile.overlap_bottom * f),
        ramp_weights(tile.width * f, tile.overlap_left * f, tile.overlap_right * f),
    ).astype(np.float32)[:, :, None]
    rows = slice(tile.top * f, (tile.top + tile.height) * f)
    columns = slice(tile.left * f, (tile.left + tile.width) * f)
    self._sum[rows, columns] += weight * output
    self._weight[rows, columns] += weight

  def result(self) -> np.ndarray:
    if not np.all(self._weight > 0):
      raise RuntimeError("tiles do not cover the frame")
    return self._sum / self._weight
