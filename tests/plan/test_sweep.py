"""The sweep's search: predicted from the peaks probed so far, it finds the boundary of a
growing peak in a few probes, and never more than about a bisection's."""

import pytest

from star_jax.plan.sweep import largest_fitting

BUDGET = 16e9


def _search(peak, limit=1024, load=float):
  probes = []

  def probed(n):
    assert n not in probes, f"{n} probed twice"
    assert 1 <= n <= limit
    probes.append(n)
    return peak(n)

  return largest_fitting(probed, BUDGET, 1, limit, load=load), probes


@pytest.mark.parametrize("fixed_gb", [0.0, 1.5, 12.0])
@pytest.mark.parametrize("per_sample_gb", [0.004, 0.3, 5.0, 15.0])
def test_a_linear_peak_takes_at_most_four_probes(fixed_gb, per_sample_gb):
  peak = lambda n: (fixed_gb + per_sample_gb * n) * 1e9
  expected = min(1024, int((BUDGET / 1e9 - fixed_gb) / per_sample_gb + 1e-9))
  found, probes = _search(peak)
  assert found == expected and peak(found) <= BUDGET
  assert len(probes) <= 4, probes


def test_a_crop_peak_is_linear_in_pixels():
  peak = lambda steps: (1.2 + 0.002 * (16 * steps) ** 2) * 1e9  # bytes ~ crop area
  found, probes = _search(peak, limit=64, load=lambda steps: float(steps * steps))
  assert peak(found) <= BUDGET < peak(found + 1)
  assert len(probes) <= 4, probes


@pytest.mark.parametrize("boundary", [1, 2, 3, 7, 8, 9, 100, 1023, 1024])
def test_a_step_shaped_peak_costs_at_most_about_a_bisection(boundary):
  # Nothing to extrapolate: the peak jumps from 1 to 2 GB-units past the boundary.
  peak = lambda n: 1e9 if n <= boundary else 2 * BUDGET
  found, probes = _search(peak)
  assert found == boundary
  assert len(probes) <= 4 + 2 * 11, probes


def test_nothing_fits_and_everything_fits():
  assert largest_fitting(lambda n: 2 * BUDGET, BUDGET, 1, 64) == 0
  assert largest_fitting(lambda n: 1.0, BUDGET, 1, 64) == 64
