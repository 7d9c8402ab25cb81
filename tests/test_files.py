"""star_jax.files: a file or folder appears under its name only complete; a failure leaves
nothing new behind and the old result untouched; temporaries never carry a data suffix
unless asked."""

import threading

import numpy as np
import pytest

from star_jax import files
from star_jax.errors import UserInputError


def test_a_file_replaces_the_old_one_only_when_complete(tmp_path):
  path = tmp_path / "table.txt"
  path.write_text("old")
  with pytest.raises(OSError, match="disk full"):
    with files.replaced_on_success(path) as partial:
      partial.write_text("ha")
      assert path.read_text() == "old"
      raise OSError("disk full")
  assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]
  files.write_text(path, "new")
  assert path.read_text() == "new" and sorted(tmp_path.iterdir()) == [path]


def test_a_folder_replaces_the_old_one_only_when_complete(tmp_path):
  path = tmp_path / "frames"
  path.mkdir()
  (path / "old.png").write_bytes(b"old")
  with files.replaced_on_success(path) as partial:
    partial.mkdir()
    (partial / "new.png").write_bytes(b"new")
    assert [p.name for p in path.iterdir()] == ["old.png"]
  assert [p.name for p in path.iterdir()] == ["new.png"]
  assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_nothing_written_is_an_error(tmp_path):
  with pytest.raises(RuntimeError, match="nothing was written"):
    with files.replaced_on_success(tmp_path / "x.npz"):
      pass


def test_temporaries_are_hidden_unique_and_suffix_free_unless_kept(tmp_path):
  destination = tmp_path / "clip.npz"
  plain = files.temporary_sibling(destination)
  kept = files.temporary_sibling(destination, keep_suffix=True)
  assert plain.name.startswith(".") and plain.suffix != ".npz" and plain.parent == tmp_path
  assert kept.name.startswith(".") and kept.suffix == ".npz"
  other = []
  thread = threading.Thread(target=lambda: other.append(files.temporary_sibling(destination)))
  thread.start()
  thread.join()
  assert other[0] != plain  # two threads writing one path never share a temporary
  with files.replaced_on_success(destination) as partial, open(partial, "wb") as f:
    np.savez(f, a=np.arange(3))
  assert np.load(destination)["a"].tolist() == [0, 1, 2]


def test_a_destination_is_checked_before_any_compute(tmp_path, monkeypatch):
  monkeypatch.setenv("HOME", str(tmp_path))
  assert files.check_destination("~/out.mp4") == tmp_path / "out.mp4"
  monkeypatch.chdir(tmp_path)
  assert files.check_destination("plan.json", name="--json") == tmp_path / "plan.json"
  (tmp_path / "old.mkv").write_text("old")
  assert files.check_destination(tmp_path / "old.mkv", overwrite=True) == tmp_path / "old.mkv"
  for destination, overwrite, message in (
      (" ", True, "--json is empty (give a path)"),
      ("old.mkv", False, "--json old.mkv already exists (overwrite replaces it)"),
      ("nope/out.mp4", True, f"--json nope/out.mp4: folder {tmp_path}/nope does not exist")):
    with pytest.raises(UserInputError) as raised:
      files.check_destination(destination, overwrite, name="--json")
    assert str(raised.value) == message
  assert raised.value.parameters == ()
  with pytest.raises(UserInputError) as raised:
    files.check_destination("old.mkv", overwrite=False)
  assert raised.value.parameters == ("overwrite",)
