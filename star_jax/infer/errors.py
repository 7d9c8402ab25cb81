"""The one error type that the command-line tools report as a single line.

Anything wrong with what the user gave us (a path, a file's content, an argument that does
not fit the checkpoint) is raised as :class:`UserInputError` with a message that names the
offending input, so ``__main__`` can print exactly that line and exit non-zero instead of
showing a traceback.
"""

import sys
import traceback
from typing import Callable, Optional, Tuple, TypeVar

T = TypeVar("T")


class UserInputError(Exception):
  """Bad input from the user (file, folder, argument); the message names it."""


def call_reporting_errors(action: Callable[[], T], failed: str, consequence: str = ""
                          ) -> Tuple[Optional[T], Optional[int]]:
  """``(action(), None)``, or ``(None, exit code)`` after printing one ``error:`` line:
  2 for a UserInputError, 130 for Ctrl-C, 1 (with the traceback) for anything unexpected.
  ``failed`` says what failed ("inference failed on clip.mp4"); ``consequence`` is appended
  ("; no output was written")."""
  try:
    return action(), None
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return None, 2
  except KeyboardInterrupt:
    print(f"error: interrupted{consequence}", file=sys.stderr)
    return None, 130
  except Exception as error:  # pylint: disable=broad-except
    traceback.print_exc()
    print(f"error: {failed} ({type(error).__name__}: {error}){consequence}", file=sys.stderr)
    return None, 1
