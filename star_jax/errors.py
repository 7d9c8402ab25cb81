"""The one error type that library code raises for bad input from the user.

Anything wrong with what the user gave us (a path, a file's content, an argument that does
not fit the checkpoint) is raised as :class:`UserInputError` with a message that names the
offending value; the command-line layer (``star_jax.cli``) prints exactly that line and
exits with status 2 instead of showing a traceback.
"""

from typing import Iterable


class UserInputError(Exception):
  """Bad input from the user (file, folder, argument); the message names it.

  ``parameters``: the Python names of the arguments the message names as words of their
  own (``"tile_size 8 must be larger than tile_overlap 8"`` -> ``("tile_size",
  "tile_overlap")``), so that a command line can say them as its options.
  """

  def __init__(self, message: str, parameters: Iterable[str] = ()):
    super().__init__(message)
    self.parameters = tuple(parameters)
