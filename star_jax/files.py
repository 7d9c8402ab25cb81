"""Files and folders that appear under their final name only once they are complete.

A writer that fails half-way (a bad frame, a full disk, Ctrl-C, a killed process) must not
leave a file or folder that looks finished, and a reader (a data worker, a resumed run) must
never see half a file. So every output of star_jax is written under a hidden temporary name
beside its destination (same folder, so the same filesystem and an atomic final rename),
and renamed onto the destination when complete; on failure the temporary is removed.
Used by the frame writer and the flow cache (``data``), the evaluation report (``evaluate``)
and the inference outputs (``video.atomic_output``).
"""

import contextlib
import os
import pathlib
import shutil
import threading
from typing import Iterator, Union

from star_jax.errors import UserInputError

PathLike = Union[str, pathlib.Path]


def check_destination(destination: PathLike, overwrite: bool = True,
                      name: str = "output") -> pathlib.Path:
  """``destination`` (``~`` expanded, made absolute) of a file or folder a command will
  write, checked before any compute rather than after it.

  Raises:
    UserInputError naming ``name`` (``"output"``, ``"--json"``): the path is empty; it
      exists and ``overwrite`` is False (the message names ``overwrite``); its folder does
      not exist, or nothing can be written there (tried: a :func:`temporary_sibling` file is
      created and removed).
  """
  if not str(destination).strip():
    raise UserInputError(f"{name} is empty (give a path)")
  path = pathlib.Path(destination).expanduser().absolute()
  if path.exists() and not overwrite:
    raise UserInputError(f"{name} {destination} already exists (overwrite replaces it)",
                         ("overwrite",))
  if not path.parent.is_dir():
    raise UserInputError(f"{name} {destination}: folder {path.parent} does not exist")
  probe = temporary_sibling(path)
  try:
    probe.open("w").close()
    probe.unlink()
  except OSError as error:
    raise UserInputError(f"{name} {destination}: cannot write in folder {path.parent} "
                         f"({error.strerror or error})") from None
  return path


def temporary_sibling(destination: PathLike, keep_suffix: bool = False) -> pathlib.Path:
  """``dir/.name.partial-<pid>-<thread>``: hidden, unique per process and thread, and with
  no data extension, so a folder listing by suffix never takes a file in flight (or one a
  killed process left) for a finished one; with ``keep_suffix``,
  ``dir/.stem.partial-<pid>-<thread>.ext`` (for writers that pick a format from the
  extension, e.g. PyAV's containers)."""
  destination = pathlib.Path(destination)
  unique = f"partial-{os.getpid()}-{threading.get_ident()}"
  if keep_suffix:
    return destination.with_name(f".{destination.stem}.{unique}{destination.suffix}")
  return destination.with_name(f".{destination.name}.{unique}")


def remove(path: PathLike) -> None:
  """Removes a file, symlink or folder tree at ``path``; nothing when there is none."""
  path = pathlib.Path(path)
  if path.is_dir() and not path.is_symlink():
    shutil.rmtree(path)
  elif path.exists() or path.is_symlink():
    path.unlink()


@contextlib.contextmanager
def replaced_on_success(destination: PathLike,
                        keep_suffix: bool = False) -> Iterator[pathlib.Path]:
  """Yields a temporary path beside ``destination`` (:func:`temporary_sibling`, with
  ``keep_suffix``) to write a file or a folder to; when the
  block succeeds, the result replaces ``destination`` (an existing folder only once the new
  one is complete, so a failure leaves the old result untouched); when it raises, the
  temporary is removed and the error passes on.

  Raises:
    RuntimeError: the block wrote nothing to the temporary path.
  """
  destination = pathlib.Path(destination)
  partial = temporary_sibling(destination, keep_suffix)
  remove(partial)
  try:
    yield partial
  except BaseException:
    remove(partial)
    raise
  if not partial.exists():
    raise RuntimeError(f"nothing was written to {partial} for {destination}")
  if destination.is_dir() and not destination.is_symlink():  # os.replace cannot replace it
    retired = destination.with_name(f".{destination.name}.replaced-{os.getpid()}")
    remove(retired)
    destination.rename(retired)
    partial.rename(destination)
    remove(retired)
  else:
    os.replace(partial, destination)


def write_text(path: PathLike, text: str) -> None:
  """Writes ``text`` (UTF-8) to ``path`` atomically."""
  with replaced_on_success(path) as partial:
    partial.write_text(text, encoding="utf-8")
