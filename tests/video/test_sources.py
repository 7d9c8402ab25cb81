"""Sources and sinks: a video's displayed size, timing and audio reach the sink; a frame
folder output says what it cannot keep; --no-audio leaves the audio out."""

import fractions

import numpy as np

from star_jax.video import sources
from star_jax.video.timeline import output_timeline
from tests.video.clips import moving_frames, read_streams, write_clip

F = fractions.Fraction


def _source(tmp_path):
  times = [F(0), F(1, 24), F(3, 24)]
  path = write_clip(tmp_path / "in.mp4", moving_frames(3, 40, 32), times, end=F(4, 24),
                    rotation=(270, False, False), audio_codec="aac")
  return sources.open_source(path)


def test_video_source_is_what_the_player_shows(tmp_path):
  source = _source(tmp_path)
  assert (source.width, source.height, source.frame_count) == (32, 40, 3)
  assert source.timeline.times == (0, F(1, 24), F(3, 24)) and source.timeline.end == F(4, 24)
  assert source.info.audio_codecs == ("aac",)
  assert next(source.frames()).shape == (40, 32, 3)


def test_folder_sink_says_what_it_cannot_keep(tmp_path):
  source = _source(tmp_path)
  sink = sources.FrameSink("folder", tmp_path / "out", source.timeline, 32, 40, source)
  assert sink.notices == [
      f"{source.name} is shown rotated 90 degrees clockwise by its display matrix: frames "
      "are enhanced as shown and written upright (no rotation tag)",
      f"the audio of {source.name} is not kept: a frame folder holds no audio (write a "
      "video file to keep it)",
      f"{source.name} has a variable frame rate; PNG frames carry no timestamps (write a "
      "video file to keep them)"]


def test_video_sink_with_and_without_audio(tmp_path):
  source = _source(tmp_path)
  times = output_timeline(source.timeline, "space-time", 2)
  for keep_audio, name in ((True, "with.mp4"), (False, "without.mp4")):
    sink = sources.FrameSink("video", tmp_path / name, times, 32, 40, source,
                             keep_audio=keep_audio)
    for _ in range(len(times)):
      sink.write(np.zeros((40, 32, 3), np.uint8))
    sink.close(success=True)
    written, end, audio, _, _ = read_streams(tmp_path / name)
    assert len(audio) == (1 if keep_audio else 0)
    assert written[1] == F(1, 48) and end == F(4, 24)
