"""config.profile_steps: parsing, and a real jax.profiler trace of the chosen steps."""

import jax
import jax.numpy as jnp
import pytest

from star_jax.train.profiling import StepProfiler, parse_profile_steps


def test_parse_profile_steps():
  assert parse_profile_steps(()) is None and parse_profile_steps(None) is None
  assert parse_profile_steps((3, 2)) == (3, 2)
  for bad in ((0, 2), (3, 0), (1, 2, 3), ("a", 1)):
    with pytest.raises(ValueError, match="profile_steps"):
      parse_profile_steps(bad)


def _run(profiler, steps):
  step_fn = jax.jit(lambda x: jnp.tanh(x @ x))
  x = jnp.ones((64, 64))
  for step in range(1, steps + 1):
    profiler.before_step(step, x)
    x = step_fn(x)
    profiler.after_step(step, x)
  profiler.close()


def test_trace_files_appear(tmp_path):
  _run(StepProfiler((2, 2), tmp_path, start_step=0), steps=4)
  runs = list((tmp_path / "profile" / "plugins" / "profile").iterdir())
  assert len(runs) == 1
  names = [p.name for p in runs[0].iterdir()]
  assert any(n.endswith(".xplane.pb") for n in names), names
  assert any(n.endswith(".trace.json.gz") for n in names), names


def test_window_past_the_end_is_closed_and_passed_window_is_skipped(tmp_path):
  _run(StepProfiler((2, 10), tmp_path / "a", start_step=0), steps=3)  # stopped by close()
  assert list((tmp_path / "a" / "profile" / "plugins" / "profile").iterdir())
  _run(StepProfiler((2, 2), tmp_path / "b", start_step=5), steps=3)  # resumed past step 2
  assert not (tmp_path / "b" / "profile").exists()
