"""Flips, rotation and patch crops: frames and flows transformed consistently."""

import itertools

import numpy as np
import pytest

from star_jax import flow
from star_jax.data import augment
from star_jax.errors import UserInputError
from star_jax.data import frames
from star_jax import pixels
from star_jax.data import vimeo


def test_coins_are_fair_independent_and_seeded():
  draws = [augment.draw_flips(np.random.default_rng([7, i])) for i in range(4000)]
  outcomes = {(d.flip_ud, d.flip_lr, d.rot180) for d in draws}
  assert len(outcomes) == 8
  for name in ("flip_ud", "flip_lr", "rot180"):
    assert abs(np.mean([getattr(d, name) for d in draws]) - 0.5) < 0.03
  assert draws[:50] == [augment.draw_flips(np.random.default_rng([7, i])) for i in range(50)]


def test_frame_flips_are_the_release_operations():
  frame = np.arange(2 * 4 * 5 * 3).reshape(2, 4, 5, 3)
  ud = augment.flip_frames(frame, augment.Flips(True, False, False))
  lr = augment.flip_frames(frame, augment.Flips(False, True, False))
  rot = augment.flip_frames(frame, augment.Flips(False, False, True))
  np.testing.assert_array_equal(ud, frame[:, ::-1])                     # ImageOps.flip
  np.testing.assert_array_equal(lr, frame[:, :, ::-1])                  # ImageOps.mirror
  np.testing.assert_array_equal(rot, np.rot90(frame, 2, axes=(1, 2)))   # Image.rotate(180)
  all_three = augment.flip_frames(frame, augment.Flips(True, True, True))
  np.testing.assert_array_equal(all_three, frame)


@pytest.mark.parametrize("coins", list(itertools.product([False, True], repeat=3)))
def test_flow_flips_follow_the_frame_geometry(coins):
  """A flow is moved with its pixels and its components point the flipped way."""
  rng = np.random.default_rng(3)
  field = rng.normal(size=(6, 7, 2)).astype(np.float32)
  flips = augment.Flips(*coins)
  got = augment.flip_flow(field, flips)
  want = augment.flip_frames(field, flips).copy()
  if flips.columns_reversed:
    want[..., 0] *= -1
  if flips.rows_reversed:
    want[..., 1] *= -1
  np.testing.assert_allclose(got, want)


def test_flipping_frames_then_computing_flow_equals_flipping_the_flow(demo_root):
  """The cached-flow shortcut is sound: recompute the flow on flipped frames and compare."""
  clips = vimeo.VimeoClips.open(demo_root, "triplet", "test")
  hr = clips.load_clip(clips.clips[0], (1, 3))
  im1, im3 = (pixels.to_float(frames.lr_from_hr(frame, 4)) for frame in hr)
  reference = np.asarray(flow.compute_flow(im1, im3))
  for flips in (augment.Flips(True, False, False), augment.Flips(False, True, False),
                augment.Flips(False, False, True)):
    flipped = np.asarray(flow.compute_flow(
        np.ascontiguousarray(augment.flip_frames(im1, flips)),
        np.ascontiguousarray(augment.flip_frames(im3, flips))))
    transformed = augment.flip_flow(reference, flips)
    end_point_error = np.linalg.norm(flipped - transformed, axis=-1)
    assert end_point_error.mean() < 0.05 * max(1.0, np.linalg.norm(reference, axis=-1).mean())
    # Not trivially true: the untransformed flow is far off whenever something moves.
    assert np.linalg.norm(flipped - reference, axis=-1).mean() > 5 * end_point_error.mean()


def test_patch_corner_bounds_and_whole_frame():
  rng = np.random.default_rng(0)
  assert augment.draw_patch(rng, 32, 40, 0) is None
  corners = [augment.draw_patch(rng, 32, 40, 12) for _ in range(500)]
  tops, lefts = zip(*corners)
  assert min(tops) == 0 and max(tops) == 32 - 12
  assert min(lefts) == 0 and max(lefts) == 40 - 12
  with pytest.raises(ValueError, match="patch_size 48"):
    augment.draw_patch(rng, 32, 40, 48)


def test_patch_crop_selects_the_matching_hr_region():
  hr = np.random.default_rng(1).integers(0, 256, size=(3, 64, 80, 3), dtype=np.uint8)
  lr = np.stack([frames.lr_from_hr(frame, 4) for frame in hr])
  corner = (5, 9)
  lr_patch = augment.crop_patch(lr, corner, 6)
  hr_patch = augment.crop_patch(hr, corner, 6, scale=4)
  assert lr_patch.shape == (3, 6, 6, 3) and hr_patch.shape == (3, 24, 24, 3)
  np.testing.assert_array_equal(hr_patch, hr[:, 20:44, 36:60])
  np.testing.assert_array_equal(augment.crop_patch(lr, None, 6), lr)


def test_a_patch_larger_than_the_frame_is_bad_input():
  with pytest.raises(UserInputError, match="patch_size 40 exceeds the input frame size 32x48"):
    augment.draw_patch(np.random.default_rng(0), 32, 48, 40)
