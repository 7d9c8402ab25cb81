"""Outputs appear only complete: a failure leaves nothing (or the old output) behind."""

import pytest

from star_jax.errors import UserInputError
from star_jax.video.atomic_output import atomic_destination


def test_success_renames_to_destination(tmp_path):
  destination = tmp_path / "out.mp4"
  with atomic_destination(destination) as partial:
    assert partial.parent == tmp_path and partial.suffix == ".mp4" and partial != destination
    partial.write_text("done")
  assert destination.read_text() == "done"
  assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_failure_leaves_nothing(tmp_path):
  destination = tmp_path / "frames"
  with pytest.raises(RuntimeError, match="boom"):
    with atomic_destination(destination) as partial:
      partial.mkdir()
      (partial / "frame_000000.png").write_bytes(b"x")
      raise RuntimeError("boom")
  assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite_and_survives_a_failed_run(tmp_path):
  destination = tmp_path / "out.mkv"
  destination.write_text("old")
  with pytest.raises(UserInputError, match="already exists"):
    with atomic_destination(destination, overwrite=False):
      pass
  with pytest.raises(RuntimeError):
    with atomic_destination(destination, overwrite=True) as partial:
      partial.write_text("half")
      raise RuntimeError("fail")
  assert destination.read_text() == "old"
  with atomic_destination(destination, overwrite=True) as partial:
    partial.write_text("new")
  assert destination.read_text() == "new"
  assert [p.name for p in tmp_path.iterdir()] == ["out.mkv"]

