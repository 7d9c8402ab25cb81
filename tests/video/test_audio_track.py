"""Audio tracks into the output video: stream copy where the container takes the codec,
AAC where it does not, in sync with the frames (within one frame) and as long as the clip."""

import fractions

import av
import numpy as np
import pytest

from star_jax.video.reader import probe_video
from star_jax.video.timeline import output_timeline
from star_jax.video.writer import AudioSource, VideoWriter
from tests.video.clips import moving_frames, read_streams, write_clip

F = fractions.Fraction
_TIMES = [F(k, 12) for k in range(6)]  # 12 fps, 0.5 s


def _enhance_like(source, output):
  """Writes the space-time timeline of ``source`` with the source's audio into ``output``."""
  info = probe_video(source)
  times = output_timeline(info.timeline, "space-time", 2)
  writer = VideoWriter(output, times, info.width, info.height,
                                  audio=AudioSource(source, info.start))
  for frame in moving_frames(len(times), info.width, info.height):
    writer.write(frame)
  writer.close()
  return writer, times


def _assert_in_sync(source, output, frame_period):
  in_times, in_end, (in_audio,), _, _ = read_streams(source)
  out_times, out_end, (out_audio,), _, _ = read_streams(output)
  # The audio starts and ends where it did relative to the first frame, within one frame.
  assert abs((out_audio[0] - out_times[0]) - (in_audio[0] - in_times[0])) < frame_period
  assert abs((out_audio[1] - out_times[0]) - (in_audio[1] - in_times[0])) < frame_period
  assert abs((out_end - out_times[0]) - (in_end - in_times[0])) < frame_period


@pytest.mark.parametrize("extension", [".mp4", ".mkv"])
def test_aac_is_stream_copied(tmp_path, extension):
  source = write_clip(tmp_path / "in.mp4", moving_frames(6, 40, 32), _TIMES,
                      audio_codec="aac")
  output = tmp_path / f"out{extension}"
  writer, _ = _enhance_like(source, output)
  assert writer.notices == []
  with av.open(str(source)) as container:
    original = [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]
  with av.open(str(output)) as container:
    assert container.streams.audio[0].codec_context.name == "aac"
    copied = [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]
  assert copied == original  # bit-exact: no re-encoding
  _assert_in_sync(source, output, F(1, 24))


def test_opus_into_mov_is_re_encoded_to_aac(tmp_path):
  source = write_clip(tmp_path / "in.mkv", moving_frames(6, 40, 32), _TIMES,
                      audio_codec="libopus")
  writer, _ = _enhance_like(source, tmp_path / "out.mov")
  assert writer.notices == ["audio track 0 (opus) is re-encoded to AAC: the output "
                            "container cannot hold it as it is"]
  with av.open(str(tmp_path / "out.mov")) as container:
    assert container.streams.audio[0].codec_context.name == "aac"
    samples = np.concatenate([frame.to_ndarray()[0] for frame in
                              container.decode(container.streams.audio[0])])
  assert np.abs(samples).max() > 0.2  # the tone, not silence
  _assert_in_sync(source, tmp_path / "out.mov", F(1, 24))


def test_avi_audio_starts_with_the_video(tmp_path):
  """AVI cannot start audio before video: the AAC priming packet (before time 0) is cut."""
  source = write_clip(tmp_path / "in.mp4", moving_frames(6, 40, 32), _TIMES,
                      audio_codec="aac")
  _enhance_like(source, tmp_path / "out.avi")
  out_times, _, (out_audio,), _, _ = read_streams(tmp_path / "out.avi")
  assert out_audio[0] == out_times[0] == 0
  assert abs(out_audio[1] - F(1, 2)) < F(1, 24)
