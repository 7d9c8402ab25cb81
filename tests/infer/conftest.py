"""Fixtures for the inference tests: release-format weights of narrow STARnets (the parity
fixtures in ``tests/fixtures``, converted on the fly like any release .pth) and small frames of a
real photograph moving across the view (``tests.video.clips``)."""

import pytest

from star_jax.weights import load_weights
from tests.video.clips import moving_frames


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


@pytest.fixture(scope="session")
def frames_factory():
  return moving_frames
