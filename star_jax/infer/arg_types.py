"""argparse value types shared by the command-line tools (``type=`` of an option)."""

import argparse


def positive_int(text: str) -> int:
  """``text`` as an int >= 1; argparse.ArgumentTypeError (shown as one usage line) otherwise."""
  if not text.isdigit() or int(text) < 1:
    raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
  return int(text)


def non_negative_int(text: str) -> int:
  """``text`` as an int >= 0; argparse.ArgumentTypeError otherwise."""
  if not text.isdigit():
    raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
  return int(text)
