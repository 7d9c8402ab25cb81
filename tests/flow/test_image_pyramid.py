"""Pyramid plan (spec §3): level sizes, blur taps and the refusal of undefined widths."""

import numpy as np
import pytest

from star_jax.flow import image_pyramid

# Spec §3.1, "verified level sizes" (W x H), identical in the reference.
SPEC_LEVEL_SIZES = {
    (112, 64): [(112, 64), (84, 48), (63, 36), (47, 27), (35, 20)],
    (146, 97): [(146, 97), (109, 72), (82, 54), (61, 40), (46, 30), (34, 22)],
    (448, 256): [(448, 256), (336, 192), (252, 144), (189, 108), (141, 81), (106, 60), (79, 45),
                 (59, 34), (44, 25), (33, 19)],
    (584, 388): [(584, 388), (438, 291), (328, 218), (246, 163), (184, 122), (138, 92),
                 (103, 69), (77, 51), (58, 38), (43, 29), (32, 22)],
}


@pytest.mark.parametrize("size", sorted(SPEC_LEVEL_SIZES))
def test_level_sizes_match_spec_table(size):
  width, height = size
  plan = image_pyramid.plan_pyramid(height, width, 0.75, 20)
  assert [(level.width, level.height) for level in plan] == SPEC_LEVEL_SIZES[size]


def test_blur_taps_and_sources_follow_truncated_half_widths():
  plan = image_pyramid.plan_pyramid(256, 448, 0.75, 20)
  # Half-widths trunc(3 sigma) are 0, 1, 2, 3 for levels 1..4: level 1 is not blurred.
  assert [len(level.taps) for level in plan[1:]] == [1, 3, 5, 7] + [7] * 5
  assert plan[1].taps == (1.0,)
  np.testing.assert_allclose(plan[2].taps[1:], [0.606316, 0.196842], atol=1e-6)
  np.testing.assert_allclose(plan[3].taps[2:], [0.402620, 0.244201, 0.054489], atol=1e-6)
  np.testing.assert_allclose(plan[4].taps[3:], [0.301377, 0.227491, 0.097843, 0.023977],
                             atol=1e-6)
  # Levels 1..4 come from the original image, deeper ones from level i - 4.
  assert [level.source for level in plan[1:]] == [0, 0, 0, 0, 1, 2, 3, 4, 5]
  assert plan[5].scale == pytest.approx(0.75 ** 5 * 448 / 336)


def test_widths_below_27_are_refused_with_clear_error():
  assert len(image_pyramid.plan_pyramid(64, 27, 0.75, 20)) == 1
  with pytest.raises(ValueError, match=r"width 26 px.*at least 27 px"):
    image_pyramid.plan_pyramid(64, 26, 0.75, 20)
  with pytest.raises(ValueError, match="width 10 px"):
    image_pyramid.plan_pyramid(64, 10, 0.75, 20)


def test_ratio_guard_applies_to_pyramid():
  assert image_pyramid.guarded_ratio(0.99) == 0.75
  assert image_pyramid.guarded_ratio(0.3) == 0.75
  assert image_pyramid.guarded_ratio(0.5) == 0.5
  guarded = image_pyramid.plan_pyramid(64, 112, 0.99, 20)
  assert [(level.width, level.height) for level in guarded] == SPEC_LEVEL_SIZES[(112, 64)]


def test_flat_images_are_refused():
  with pytest.raises(ValueError, match="too flat"):
    image_pyramid.plan_pyramid(2, 112, 0.75, 20)
