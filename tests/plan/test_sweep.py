"""The sweep's search: doubling then bisection finds the boundary of a monotone predicate."""

import pytest

from star_jax.plan.sweep import largest_fitting


@pytest.mark.parametrize("boundary", [1, 2, 3, 7, 8, 9, 100, 1023, 1024])
def test_finds_the_largest_fitting_value(boundary):
  probes = []

  def fits(n):
    probes.append(n)
    return n <= boundary

  assert largest_fitting(fits, 1, 1024) == boundary
  assert len(probes) <= 2 * 11 + 1  # about 2 log2(limit) probes, never a scan


def test_nothing_fits_and_everything_fits():
  assert largest_fitting(lambda n: False, 1, 64) == 0
  assert largest_fitting(lambda n: True, 1, 64) == 64
