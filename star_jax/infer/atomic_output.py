"""Outputs that appear under their final name only once they are complete.

A run that fails half-way (bad frame 900 of 1000, out of memory, Ctrl-C) must not leave a
file or folder that looks like a finished result, so every output is written under a hidden
temporary name beside the destination (same filesystem, so the final rename is atomic) and
renamed on success; on failure the temporary is removed.
"""

import contextlib
import os
import pathlib
import shutil
from typing import Iterator, Union

from star_jax.infer.errors import UserInputError

PathLike = Union[str, pathlib.Path]


def _temporary_sibling(destination: pathlib.Path) -> pathlib.Path:
  """``dir/.name.partial-<pid>.ext``: hidden, unique per process, same extension (PyAV picks
  the container from it)."""
  return destination.with_name(
      f".{destination.stem}.partial-{os.getpid()}{destination.suffix}")


def _remove(path: pathlib.Path) -> None:
  if path.is_dir() and not path.is_symlink():
    shutil.rmtree(path)
  elif path.exists() or path.is_symlink():
    path.unlink()


def check_destination(destination: PathLike, overwrite: bool) -> pathlib.Path:
  """Fails early (before any compute) when the destination exists and may not be replaced,
  or when its parent folder is missing."""
  destination = pathlib.Path(destination)
  if destination.exists() and not overwrite:
    raise UserInputError(f"output {destination} already exists (overwrite replaces it)",
                         ("overwrite",))
  if not destination.parent.is_dir():
    raise UserInputError(f"output folder {destination.parent} does not exist")
  return destination


@contextlib.contextmanager
def atomic_destination(destination: PathLike, overwrite: bool = False) -> Iterator[pathlib.Path]:
  """Yields a temporary path to write to; renames it to ``destination`` if the block succeeds.

  With ``overwrite`` an existing destination is replaced only after the new output is
  complete, so a failed run leaves the old result untouched.
  """
  destination = check_destination(destination, overwrite)
  partial = _temporary_sibling(destination)
  _remove(partial)
  try:
    yield partial
  except BaseException:
    _remove(partial)
    raise
  if not partial.exists():
    raise RuntimeError(f"nothing was written to {partial} for {destination}")
  if destination.exists():
    retired = destination.with_name(f".{destination.name}.replaced-{os.getpid()}")
    _remove(retired)
    destination.rename(retired)
    partial.rename(destination)
    _remove(retired)
  else:
    partial.rename(destination)
