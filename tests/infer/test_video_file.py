"""Video files: encode/decode round trip with frame rate, count and timestamps (constant and
variable rate), time bases a codec cannot take, pixel formats and odd sizes, pixel aspect,
bad files."""

import fractions

import av
import numpy as np
import pytest
from av.video.reformatter import ColorRange, Colorspace

from star_jax.infer import video_file
from star_jax.errors import UserInputError
from star_jax.infer.timeline import Timeline, output_timeline
from tests.infer.conftest import moving_frames, read_streams, write_clip

F = fractions.Fraction


def _ramp_frames(count, width, height):
  return [np.full((height, width, 3), (30 + 40 * index) % 250, np.uint8) for index in range(count)]


def _write(path, timeline, size, **kwargs):
  writer = video_file.VideoWriter(path, timeline, *size, **kwargs)
  for frame in _ramp_frames(len(timeline), *size):
    writer.write(frame)
  writer.close()
  return writer


@pytest.mark.parametrize("extension", [".mp4", ".mkv", ".avi", ".mov"])
def test_round_trip(tmp_path, extension):
  path = tmp_path / f"clip{extension}"
  timeline = Timeline.constant_rate(5, F(30000, 1001))
  writer = _write(path, timeline, (40, 32))
  assert writer.notices == [] and writer.time_base == F(1001, 30000)
  info = video_file.probe_video(path)
  assert (info.width, info.height, info.frame_count) == (40, 32, 5)
  assert info.fps == F(30000, 1001)
  # Matroska stores milliseconds; the others the exact time base.
  tolerance = F(1, 2000) if extension == ".mkv" else 0
  assert all(abs(a - b) <= tolerance for a, b in zip(info.timeline.times, timeline.times))
  if extension != ".avi":  # AVI stores no durations: its last frame lasts one tick
    assert abs(info.timeline.end - timeline.end) <= 2 * tolerance  # start and duration rounded
  if extension != ".avi":  # tagged with the matrix the frames were converted with
    with av.open(str(path)) as container:
      first = next(container.decode(video=0))
      assert (first.colorspace, first.color_range) == (Colorspace.ITU601, ColorRange.MPEG)
  decoded = list(video_file.iter_video_frames(path))
  assert len(decoded) == 5 and decoded[0].shape == (32, 40, 3)
  means = [frame.mean() for frame in decoded]
  np.testing.assert_allclose(means, [30 + 40 * i for i in range(5)], atol=3)


def test_variable_rate_input_keeps_its_timestamps_and_duration(tmp_path):
  times = [F(0), F(1, 24), F(2, 24), F(5, 24), F(6, 24), F(10, 24)]
  path = write_clip(tmp_path / "vfr.mp4", moving_frames(6, 40, 32), times, end=F(13, 24))
  info = video_file.probe_video(path)
  assert info.timeline.times == tuple(times) and info.timeline.end == F(13, 24)
  out = output_timeline(info.timeline, "space-time", 2)
  _write(tmp_path / "out.mp4", out, (40, 32))
  written, end, _, _, _ = read_streams(tmp_path / "out.mp4")
  assert written == [F(0), F(1, 48), F(1, 24), F(3, 48), F(2, 24), F(7, 48), F(5, 24),
                     F(11, 48), F(6, 24), F(8, 24), F(10, 24)]  # (t1 + t2) / 2 exactly
  assert end == F(13, 24)


def test_ntsc_rate_times_4_in_avi_is_opened_before_any_frame(tmp_path):
  """29.97 fps x 4 needs the time base 1001/120000 s, beyond MPEG-4 Part 2's 16 bits: the
  writer finds that when it is made and rounds to a 16-bit time base instead."""
  timeline = output_timeline(Timeline.constant_rate(3, F(30000, 1001)), "time", 4)
  path = tmp_path / "fast.avi"
  writer = video_file.VideoWriter(path, timeline, 40, 32)  # encoder opened: no frame yet
  assert writer.time_base == F(342, 40999) and writer.time_base.denominator <= 65535
  assert len(writer.notices) == 1 and "1001/120000" in writer.notices[0]
  assert "342/40999" in writer.notices[0]
  for frame in _ramp_frames(len(timeline), 40, 32):
    writer.write(frame)
  writer.close()
  written, _, _, _, _ = read_streams(path)
  assert len(written) == 9
  assert max(abs(a - b) for a, b in zip(written, timeline.times)) < F(1, 10**6)


def test_a_setting_the_encoder_refuses_fails_in_one_line_before_any_frame(tmp_path):
  with pytest.raises(UserInputError, match=r"pix_fmt yuv444p: mpeg4 .* encodes yuv420p"):
    video_file.VideoWriter(tmp_path / "x.avi", Timeline.constant_rate(2, F(25)), 40, 32,
                           pix_fmt="yuv444p")
  with pytest.raises(UserInputError, match=r"pix_fmt rgb48: libx264 .*yuv420p"):
    video_file.VideoWriter(tmp_path / "x.mp4", Timeline.constant_rate(2, F(25)), 40, 32,
                           pix_fmt="rgb48")
  assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extension", [".mp4", ".avi"])
def test_odd_size_is_padded_to_playable_yuv420p(tmp_path, extension):
  path = tmp_path / f"odd{extension}"
  writer = _write(path, Timeline.constant_rate(2, F(25)), (41, 33))
  assert writer.notices == [
      "output 41x33 is padded to 42x34 (edge pixels repeated) because yuv420p needs even "
      "sides; --pix-fmt yuv444p keeps the exact size (fewer players decode it)"]
  _, _, _, pix_fmt, size = read_streams(path)
  assert pix_fmt == "yuv420p" and size == (42, 34)
  decoded = next(video_file.iter_video_frames(path))
  np.testing.assert_allclose(decoded[:, 41].mean(), decoded[:, 40].mean(), atol=2)


def test_yuv444p_keeps_an_odd_size(tmp_path):
  writer = _write(tmp_path / "odd.mkv", Timeline.constant_rate(2, F(25)), (41, 33),
                  pix_fmt="yuv444p")
  assert writer.notices == []
  _, _, _, pix_fmt, size = read_streams(tmp_path / "odd.mkv")
  assert pix_fmt == "yuv444p" and size == (41, 33)


def test_pixel_aspect_is_kept_and_swapped_by_a_quarter_turn(tmp_path):
  stored = moving_frames(2, 40, 32)
  path = write_clip(tmp_path / "anamorphic.mp4", stored, [F(0), F(1, 24)],
                    rotation=(90, False, False), sample_aspect_ratio=F(4, 3))
  info = video_file.probe_video(path)
  assert (info.width, info.height) == (32, 40) and info.sample_aspect_ratio == F(3, 4)
  _write(tmp_path / "out.mp4", info.timeline, (32, 40),
         sample_aspect_ratio=info.sample_aspect_ratio)
  with av.open(str(tmp_path / "out.mp4")) as container:
    assert container.streams.video[0].sample_aspect_ratio == F(3, 4)


def test_unreadable_and_missing_videos(tmp_path):
  garbage = tmp_path / "broken.mp4"
  garbage.write_bytes(b"\x00" * 1000)
  with pytest.raises(UserInputError, match=r"cannot open video .*broken\.mp4"):
    video_file.probe_video(garbage)
  with pytest.raises(UserInputError, match="does not exist"):
    video_file.probe_video(tmp_path / "missing.mp4")


def test_file_without_video_stream(tmp_path):
  import av  # pylint: disable=import-outside-toplevel
  path = tmp_path / "audio.mkv"
  with av.open(str(path), "w") as container:
    stream = container.add_stream("pcm_s16le", rate=8000)
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                       layout="mono")
    frame.sample_rate = 8000
    for packet in stream.encode(frame):
      container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  with pytest.raises(UserInputError, match="has no video stream"):
    video_file.probe_video(path)


def test_check_output_tries_the_encoder_without_touching_the_path(tmp_path):
  timeline = output_timeline(Timeline.constant_rate(3, F(30000, 1001)), "time", 4)
  notices = video_file.check_output(tmp_path / "x.avi", timeline, 41, 32)
  assert len(notices) == 2 and "padded to 42x32" in notices[0] and "342/40999" in notices[1]
  with pytest.raises(UserInputError, match="pix_fmt yuv444p"):
    video_file.check_output(tmp_path / "x.avi", timeline, 40, 32, pix_fmt="yuv444p")
  assert list(tmp_path.iterdir()) == []
