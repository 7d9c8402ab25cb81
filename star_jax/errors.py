"""The one error type that library code raises for bad input from the user: the lowest layer
(it imports nothing of star_jax), so every package can raise it.

Anything wrong with what the user gave us (a path, a file's content, a config field, an
argument that does not fit the weights) is raised as :class:`UserInputError` (or a subclass:
``star_jax.train.preflight.WorkdirError``, ...) with a message that names the offending
value; the command-line layer (``star_jax.cli``) prints exactly that line and exits with
status 2 instead of showing a traceback. Every other exception is a failure (status 1).
"""

from typing import Iterable


class UserInputError(ValueError):
  """Bad input from the user (file, folder, config field, argument); the message names it.

  A ``ValueError``, so that code catching a bad value catches it too.

  ``parameters``: the Python names of the arguments the message names as words of their
  own (``"tile_size 8 must be larger than tile_overlap 8"`` -> ``("tile_size",
  "tile_overlap")``), so that a command line can say them as its options.
  """

  def __init__(self, message: str, parameters: Iterable[str] = ()):
    super().__init__(message)
    self.parameters = tuple(parameters)
