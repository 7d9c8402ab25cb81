"""Output frame order, counts and sizes for every mode, the recursive 4x time step, chunked
streaming, batched + prefetched streaming against one pair at a time, and the errors for too
few or changing frames (also when they arise in the prefetch thread)."""

import numpy as np
import pytest

from star_jax.pixels import to_float, to_uint8
from star_jax.infer import frame_schedule
from star_jax.infer import EngineOptions, JaxNetwork, PairEngine
from star_jax.errors import UserInputError


@pytest.fixture(scope="module")
def engine(v4_x4):
  return PairEngine(JaxNetwork(*v4_x4))


@pytest.fixture(scope="module")
def frames(frames_factory):
  return frames_factory(3, 40, 32)


def _run(engine, frames, mode, factor, pairs_per_step=1, prefetch=frame_schedule.DEFAULT_PREFETCH):
  return list(frame_schedule.generate_output_frames(engine, iter(frames), mode, factor, "clip",
                                              pairs_per_step=pairs_per_step,
                                              prefetch=prefetch))


def test_space_time_order_and_chunking(engine, frames):
  outputs = _run(engine, frames, "space-time", 2, pairs_per_step=1)
  assert len(outputs) == frame_schedule.output_frame_count("space-time", 2, 3) == 5
  assert all(frame.shape == (128, 160, 3) and frame.dtype == np.uint8 for frame in outputs)
  f = [to_float(frame) for frame in frames]
  first, second = engine.run([(f[0], f[1]), (f[1], f[2])], ("h1", "ht", "h2"))
  expected = [to_uint8(first["h1"]), to_uint8(first["ht"]), to_uint8(second["h1"]),
              to_uint8(second["ht"]), to_uint8(second["h2"])]
  for got, want in zip(outputs, expected):
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
  # Two pairs per step gives the same stream.
  together = _run(engine, frames, "space-time", 2, pairs_per_step=2)
  for a, b in zip(outputs, together):
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_space_time_4x_applies_the_half_step_recursively(engine, frames):
  outputs = _run(engine, frames[:2], "space-time", 4)
  assert len(outputs) == 5
  f0, f1 = to_float(frames[0]), to_float(frames[1])
  half = engine.run([(f0, f1)], ("h1", "ht", "l", "h2"))[0]
  middle = half["l"]
  quarter, three_quarter = engine.run([(f0, middle), (middle, f1)], ("ht",))
  expected = [to_uint8(half["h1"]), to_uint8(quarter["ht"]), to_uint8(half["ht"]),
              to_uint8(three_quarter["ht"]), to_uint8(half["h2"])]
  for got, want in zip(outputs, expected):
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_space_mode_keeps_the_frame_count(engine, frames):
  outputs = _run(engine, frames, "space", 1)
  assert len(outputs) == 3 and outputs[0].shape == (128, 160, 3)
  with pytest.raises(UserInputError, match="time_factor must be 1"):
    _run(engine, frames, "space", 2)


@pytest.mark.parametrize("factor", [2, 4])
def test_time_mode_keeps_input_frames_and_size(engine, frames, factor):
  outputs = _run(engine, frames, "time", factor)
  assert len(outputs) == factor * 2 + 1
  assert all(frame.shape == (32, 40, 3) for frame in outputs)
  for index, frame in enumerate(frames):  # the input frames pass through unchanged
    np.testing.assert_array_equal(outputs[index * factor], frame)
  middle = engine.run([(to_float(frames[0]), to_float(frames[1]))], ("l",))[0]["l"]
  assert np.abs(outputs[factor // 2].astype(int) - to_uint8(middle).astype(int)).max() <= 1


def test_too_few_or_changing_frames(engine, frames):
  with pytest.raises(UserInputError, match="only 1 frame"):
    _run(engine, frames[:1], "space-time", 2)
  with pytest.raises(UserInputError, match="contains no frames"):
    _run(engine, [], "space-time", 2)
  with pytest.raises(UserInputError, match="frame size changes"):
    _run(engine, frames[:2] + [frames[2][:30]], "space-time", 2)


def test_batched_prefetched_stream_equals_one_pair_at_a_time(v4_x4, frames_factory):
  """5 frames = 4 pairs in batches of 3 (the last batch partial, filled up), two chunks
  prefetched, against batch 1 without a prefetch thread: the same frames."""
  frames = frames_factory(5, 40, 32)
  network = JaxNetwork(*v4_x4)
  single = _run(PairEngine(network, options=EngineOptions(batch_size=1)), frames, "space-time",
                2, pairs_per_step=1, prefetch=0)
  batched_engine = PairEngine(network, options=EngineOptions(batch_size=3))
  batched = _run(batched_engine, frames, "space-time", 2,
                 pairs_per_step=batched_engine.batch_size, prefetch=2)
  assert len(single) == len(batched) == 9
  for a, b in zip(single, batched):
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
  assert np.abs(single[1].astype(int) - single[3].astype(int)).max() > 10  # frames differ


def test_errors_of_the_frame_reader_surface_through_the_prefetch_thread(engine, frames):
  def failing_reader():
    yield from frames
    raise OSError("clip.mp4: corrupt packet at frame 3")

  with pytest.raises(OSError, match="corrupt packet at frame 3"):
    list(frame_schedule.generate_output_frames(engine, failing_reader(), "space-time", 2, "clip",
                                         pairs_per_step=1, prefetch=2))
  with pytest.raises(UserInputError, match="frame size changes"):
    _run(engine, frames[:2] + [frames[2][:30]], "space-time", 2, prefetch=2)
  with pytest.raises(ValueError, match="prefetch must be >= 0"):
    _run(engine, frames, "space-time", 2, prefetch=-1)


@pytest.mark.parametrize("mode,factor", [("space-time", 3), ("time", 1), ("warp", 2)])
def test_bad_mode_combinations(mode, factor):
  with pytest.raises(UserInputError):
    frame_schedule.check_mode(mode, factor)
