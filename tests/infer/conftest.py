"""Fixtures for the inference tests: release-format weights of narrow STARnets (the parity
fixtures in ``tests/fixtures``, converted on the fly like any release .pth) and small frames of a
real photograph moving across the view."""

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from star_jax.convert import load_weights


@pytest.fixture(scope="session")
def release_weights(shared_dir):
  """``name -> path`` of release-format .pth.gz files (V4_x4, V3_x4, V4_x2, ...)."""
  def path(name):
    return shared_dir / "parity" / name / "model.pth.gz"
  return path


@pytest.fixture(scope="session")
def v4_x4(release_weights):
  """(model config, variables) of the narrow V4 4x release model."""
  return load_weights(release_weights("V4_x4"))


def moving_frames(count, width, height, step=(2, 1), gray=False):
  """``count`` uint8 RGB frames: a window moving ``step`` px per frame over a photograph
  (downscaled 4x so the content is detailed at this size)."""
  photo = np.asarray(Image.fromarray(skimage_data.astronaut()).resize((128, 128),
                                                                      Image.BICUBIC))
  frames = []
  for index in range(count):
    top, left = 20 + step[1] * index, 10 + step[0] * index
    frame = photo[top:top + height, left:left + width]
    frames.append(np.dstack([frame.mean(axis=2).astype(np.uint8)] * 3) if gray else frame)
  return frames


@pytest.fixture(scope="session")
def frames_factory():
  return moving_frames
