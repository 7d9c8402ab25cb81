"""Tile layout covers the frame with the requested overlap, and the blend weights form a
partition of unity, so blending identical content reproduces it exactly."""

import numpy as np
import pytest

from star_jax.infer import tiling


@pytest.mark.parametrize("length,tile,overlap", [(100, 40, 10), (71, 40, 10), (40, 40, 8),
                                                 (30, 40, 8), (257, 64, 16), (65, 64, 16)])
def test_axis_starts_cover_with_overlap(length, tile, overlap):
  starts = tiling.axis_starts(length, tile, overlap)
  size = min(tile, length)
  assert starts[0] == 0 and starts[-1] + size == length
  for before, after in zip(starts, starts[1:]):
    assert after > before
    assert before + size - after >= overlap  # at least the requested overlap
  steps = np.diff(starts)
  assert len(steps) == 0 or steps.max() - steps.min() <= 1  # evenly spread


def test_overlap_must_be_smaller_than_tile():
  with pytest.raises(ValueError, match="overlap"):
    tiling.axis_starts(100, 16, 16)


def test_plan_records_neighbour_overlaps():
  tiles = tiling.plan_tiles(50, 90, 32, 40, 8)
  assert {(t.top, t.left) for t in tiles} == {(0, 0), (0, 25), (0, 50), (18, 0), (18, 25),
                                              (18, 50)}
  corner = next(t for t in tiles if (t.top, t.left) == (0, 0))
  assert (corner.overlap_top, corner.overlap_left) == (0, 0)
  assert (corner.overlap_bottom, corner.overlap_right) == (14, 15)
  middle = next(t for t in tiles if (t.top, t.left) == (18, 25))
  assert (middle.overlap_left, middle.overlap_right, middle.overlap_bottom) == (15, 15, 0)


@pytest.mark.parametrize("overlap", [1, 3, 8, 17])
def test_neighbour_weights_sum_to_one_and_skip_the_outer_quarter(overlap):
  first = tiling.ramp_weights(40, 0, overlap)
  second = tiling.ramp_weights(40, overlap, 0)
  np.testing.assert_allclose(first[40 - overlap:] + second[:overlap], 1.0, atol=1e-12)
  margin = overlap // 4
  assert np.all(second[:margin] == 0) and np.all(first[40 - margin:] == 0)
  assert np.all(first[:40 - overlap] == 1)  # full weight up to the frame border


def test_blending_tiles_of_one_image_reproduces_it():
  rng = np.random.default_rng(0)
  factor = 3
  image = rng.random((37 * factor, 53 * factor, 3)).astype(np.float32)
  blender = tiling.TileBlender(37, 53, factor)
  for tile in tiling.plan_tiles(37, 53, 16, 20, 6):
    blender.add(tile, image[tile.top * factor:(tile.top + tile.height) * factor,
                            tile.left * factor:(tile.left + tile.width) * factor])
  np.testing.assert_allclose(blender.result(), image, atol=1e-6)


def test_blending_is_seamless_between_different_tiles():
  """Two tiles with different constant values: the blend ramps monotonically between them
  inside the overlap instead of jumping at a seam."""
  blender = tiling.TileBlender(8, 30, 1, channels=1)
  left, right = tiling.plan_tiles(8, 30, 8, 20, 10)
  blender.add(left, np.zeros((8, 20, 1), np.float32))
  blender.add(right, np.ones((8, 20, 1), np.float32))
  row = blender.result()[0, :, 0]
  assert np.all(np.diff(row) >= 0)
  assert row[0] == 0 and row[-1] == 1
  assert np.abs(np.diff(row)).max() < 0.3  # spread over the overlap, no single-step seam
