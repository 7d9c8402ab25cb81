"""Middlebury colour wheel."""

import numpy as np

from star_jax.flow import visualize


def test_wheel_has_55_colours_with_primaries_at_segment_starts():
  wheel = visualize.colour_wheel()
  assert wheel.shape == (55, 3)
  primaries = {0: (1, 0, 0), 15: (1, 1, 0), 21: (0, 1, 0), 25: (0, 1, 1), 36: (0, 0, 1),
               49: (1, 0, 1)}
  for index, colour in primaries.items():
    np.testing.assert_array_equal(wheel[index], colour)


def test_colour_coding():
  flow = np.array([[[0, 0], [1, 0], [-1, 0], [0, -1], [2, 0], [np.nan, 0]]], float)
  image = visualize.flow_to_colour(flow, max_radius=1.0)
  assert image.dtype == np.uint8 and image.shape == (1, 6, 3)
  np.testing.assert_array_equal(image[0, 0], [255, 255, 255])  # no motion: white
  np.testing.assert_array_equal(image[0, 1], [255, 0, 0])      # right: red
  assert image[0, 2, 2] > 200 and image[0, 2, 0] < 50          # left: cyan-blue side
  assert image[0, 3, 2] == 255 and image[0, 3, 1] == 0         # up: blue-magenta side
  np.testing.assert_array_equal(image[0, 4], [191, 0, 0])      # beyond the radius: darker
  np.testing.assert_array_equal(image[0, 5], [0, 0, 0])        # not finite: black
