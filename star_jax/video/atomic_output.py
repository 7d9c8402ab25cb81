"""Outputs that appear under their final name only once they are complete.

A run that fails half-way (bad frame 900 of 1000, out of memory, Ctrl-C) must not leave a
file or folder that looks like a finished result: the output goes through
``star_jax.files.replaced_on_success``, after a check that the destination may be written.
"""

import contextlib
import pathlib
from typing import Iterator

from star_jax import files
from star_jax.files import PathLike


@contextlib.contextmanager
def atomic_destination(destination: PathLike, overwrite: bool = False) -> Iterator[pathlib.Path]:
  """Yields a temporary path to write to; renames it to ``destination`` if the block succeeds
  (``star_jax.files.replaced_on_success``), after ``star_jax.files.check_destination``.

  With ``overwrite`` an existing destination is replaced only after the new output is
  complete, so a failed run leaves the old result untouched.
  """
  # The extension stays: PyAV picks the container from it.
  with files.replaced_on_success(files.check_destination(destination, overwrite),
                                 keep_suffix=True) as partial:
    yield partial
