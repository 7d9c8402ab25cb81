"""star_jax.infer.arg_types: option values accepted and refused."""

import argparse

import pytest

from star_jax.infer.arg_types import non_negative_int, positive_int


def test_positive_int():
  assert positive_int("3") == 3
  for bad in ("0", "-1", "2.5", "x"):
    with pytest.raises(argparse.ArgumentTypeError, match=f"positive integer, got {bad}"):
      positive_int(bad)


def test_non_negative_int():
  assert non_negative_int("0") == 0 and non_negative_int("7") == 7
  for bad in ("-1", "x"):
    with pytest.raises(argparse.ArgumentTypeError, match=f"0 or a positive integer, got {bad}"):
      non_negative_int(bad)
