"""The one error type that the command-line tools report as a single line.

Anything wrong with what the user gave us (a path, a file's content, an argument that does
not fit the checkpoint) is raised as :class:`UserInputError` with a message that names the
offending input, so ``__main__`` can print exactly that line and exit non-zero instead of
showing a traceback.
"""


class UserInputError(Exception):
  """Bad input from the user (file, folder, argument); the message names it."""
