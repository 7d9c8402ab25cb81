"""Timelines: constant and variable rates, exact in-between times, the end kept, the tick."""

import fractions

import pytest

from star_jax.errors import UserInputError
from star_jax.infer.timeline import Timeline, output_timeline

F = fractions.Fraction


def test_constant_rate_ntsc():
  timeline = Timeline.constant_rate(4, F(30000, 1001))
  assert timeline.times == (0, F(1001, 30000), F(2002, 30000), F(3003, 30000))
  assert timeline.end == F(4004, 30000) and timeline.frame_rate == F(30000, 1001)
  assert timeline.tick() == F(1001, 30000) and timeline.is_constant_rate()


def test_variable_rate_space_time_has_exact_half_way_times():
  source = Timeline([F(0), F(1, 24), F(3, 24), F(7, 24)], F(9, 24))
  assert not source.is_constant_rate()
  out = output_timeline(source, "space-time", 2)
  assert out.times == (0, F(1, 48), F(1, 24), F(2, 24), F(3, 24), F(5, 24), F(7, 24))
  assert out.end == source.end  # the clip's duration is kept
  assert out.durations()[-1] == F(2, 24)  # the last frame is shown as long as in the input
  assert out.tick() == F(1, 48)


def test_time_factor_4_gives_the_quarters_and_space_mode_keeps_the_input():
  source = Timeline([F(0), F(1, 10), F(3, 10)], F(4, 10))
  out = output_timeline(source, "time", 4)
  assert out.times == tuple(F(k, 40) for k in (0, 1, 2, 3, 4, 6, 8, 10, 12))
  assert out.end == F(4, 10) and out.tick() == F(1, 40)
  assert output_timeline(source, "space", 1) is source
  with pytest.raises(UserInputError, match="at least 2 frames"):
    output_timeline(Timeline([F(0)], F(1)), "space-time", 2)


def test_invalid_timelines_are_refused():
  with pytest.raises(ValueError, match="starts at time 0"):
    Timeline([F(1), F(2)], F(3))
  with pytest.raises(ValueError, match="increase"):
    Timeline([F(0), F(2), F(1)], F(3))
  with pytest.raises(ValueError, match="increase"):
    Timeline([F(0), F(1)], F(1))
