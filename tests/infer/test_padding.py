"""The padded size is what each variant needs; padding replicates edges; cropping inverts it."""

import numpy as np
import pytest

from star_jax.infer import padding


@pytest.mark.parametrize("variant,scale,multiple", [
    ("V4", 4, 1), ("V4_REF", 2, 2), ("V2", 2, 2), ("V4", 8, 1), ("V2_REF", 4, 1),
    ("V1", 2, 1), ("V3_REF", 2, 1)])
def test_lr_side_multiple(variant, scale, multiple):
  assert padding.lr_side_multiple(variant, scale) == multiple
  # The HR side of any multiple is divisible by 4 for the pyramid variants.
  if variant[:2] in ("V2", "V4"):
    assert scale * multiple % 4 == 0


def test_padded_size_rounds_up_and_respects_minimum():
  assert padding.padded_size(33, 45, 2) == (34, 46)
  assert padding.padded_size(33, 45, 1) == (33, 45)
  assert padding.padded_size(20, 45, 2, minimum=32) == (32, 46)


def test_pad_replicates_edges_and_crop_restores():
  rng = np.random.default_rng(1)
  frames = rng.random((2, 5, 7, 3)).astype(np.float32)
  padded = padding.pad_bottom_right(frames, 8, 9)
  assert padded.shape == (2, 8, 9, 3)
  np.testing.assert_array_equal(padded[:, 5:, :7], np.repeat(frames[:, -1:], 3, axis=1))
  np.testing.assert_array_equal(padded[:, :5, 7:], np.repeat(frames[:, :, -1:], 2, axis=2))
  np.testing.assert_array_equal(padding.crop_top_left(padded, 5, 7), frames)
  with pytest.raises(ValueError):
    padding.pad_bottom_right(frames, 4, 9)
