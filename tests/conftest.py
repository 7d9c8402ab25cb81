"""Shared pytest fixtures: where the ground-truth fixtures live."""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"


def shared_root() -> pathlib.Path:
  """``$STAR_JAX_SHARED`` if set, else the copy carried by the repository (``tests/fixtures``).

  Either folder holds ``parity/<model>/{model.pth.gz,io.npz,meta.json}``,
  ``flow/fixtures/*.npz`` and ``trainstep/<case>/{model.pth.gz,batch.npz,reference.npz,
  meta.json}`` (see ``tests/fixtures/README.md`` for their provenance).
  """
  return pathlib.Path(os.environ.get("STAR_JAX_SHARED", FIXTURES))


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
  root = shared_root()
  if not (root / "parity").is_dir() or not (root / "flow" / "fixtures").is_dir():
    raise FileNotFoundError(
        f"ground-truth folder {root} lacks parity/ or flow/fixtures/; "
        "unset STAR_JAX_SHARED to use the repository's tests/fixtures")
  return root
