"""Flips/rotation of flow fields agree with flow recomputed on flipped frames."""

import jax.numpy as jnp
import numpy as np
import pytest

from star_jax.flow import coarse2fine_flow, transforms

FRAME_OPS = {
    "flip_ud": lambda a: a[::-1],
    "flip_lr": lambda a: a[:, ::-1],
    "rot180": lambda a: a[::-1, ::-1],
}


def test_transforms_on_a_known_field():
  flow = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2) + 1
  np.testing.assert_array_equal(transforms.flip_ud(flow)[0, 0], [flow[1, 0, 0], -flow[1, 0, 1]])
  np.testing.assert_array_equal(transforms.flip_lr(flow)[0, 0], [-flow[0, 2, 0], flow[0, 2, 1]])
  np.testing.assert_array_equal(transforms.rot180(flow)[0, 0], -flow[1, 2])
  batched = jnp.asarray(np.stack([flow, 2 * flow]))
  for name in FRAME_OPS:
    op = getattr(transforms, name)
    np.testing.assert_array_equal(np.asarray(op(op(batched))), np.asarray(batched))
    np.testing.assert_array_equal(np.asarray(op(batched))[1], op(2 * flow))


@pytest.mark.parametrize("name", sorted(FRAME_OPS))
def test_transformed_flow_matches_flow_of_transformed_frames(shared_dir, name):
  with np.load(shared_dir / "flow" / "fixtures" / "rw_07_09_112x64.npz") as data:
    im1, im2 = data["im1"], data["im2"]
  flow = np.asarray(coarse2fine_flow(im1, im2).flow)
  frame_op = FRAME_OPS[name]
  recomputed = np.asarray(coarse2fine_flow(frame_op(im1), frame_op(im2)).flow)
  transformed = getattr(transforms, name)(flow)
  error = np.linalg.norm(recomputed - transformed, axis=-1).mean()
  untransformed = np.linalg.norm(recomputed - frame_op(flow), axis=-1).mean()
  # The solver is not exactly flip-equivariant (row-major SOR), but close; getting a sign
  # wrong would leave an error of the size of the flow itself.
  assert error < 0.05 and error < 0.1 * untransformed, (error, untransformed)
