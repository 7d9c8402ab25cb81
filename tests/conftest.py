"""Shared pytest fixtures: where the ground-truth folder ``../shared`` lives."""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def shared_root() -> pathlib.Path:
  """``$STAR_JAX_SHARED`` if set, else ``../shared`` beside the repository (as in CI)."""
  return pathlib.Path(os.environ.get("STAR_JAX_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
  root = shared_root()
  if not root.is_dir():
    raise FileNotFoundError(
        f"ground-truth folder {root} is missing; set STAR_JAX_SHARED to its location")
  return root
