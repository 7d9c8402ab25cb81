"""Fixtures of the data tests: one small demo dataset per session (it takes a second)."""

import pytest

from star_jax.data import demo

# Small enough to generate, cache flows for and build TFDS from in a few seconds; same
# frame size as the default demo dataset.
SMALL_DEMO = dict(num_train_triplets=12, num_test_triplets=6, num_train_septuplets=3,
                  num_test_septuplets=2)


@pytest.fixture(scope="session")
def demo_counts():
  """The clip counts of ``demo_root``."""
  return dict(SMALL_DEMO)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
  """A small demo dataset, shared read-only by the tests."""
  return demo.ensure_demo_dataset(tmp_path_factory.mktemp("demo"), show_progress=False,
                                  **SMALL_DEMO)
