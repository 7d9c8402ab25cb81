"""Video files: encode/decode round trip with frame rate and count, odd sizes, bad files."""

import fractions

import numpy as np
import pytest

from star_jax.infer import video_file
from star_jax.infer.errors import UserInputError


def _ramp_frames(count, width, height):
  return [np.full((height, width, 3), 30 + 40 * index, np.uint8) for index in range(count)]


@pytest.mark.parametrize("extension,size", [(".mp4", (40, 32)), (".mkv", (41, 33)),
                                            (".avi", (40, 32)), (".mov", (40, 32))])
def test_round_trip(tmp_path, extension, size):
  path = tmp_path / f"clip{extension}"
  writer = video_file.VideoWriter(path, fractions.Fraction(30000, 1001), *size)
  for frame in _ramp_frames(5, *size):
    writer.write(frame)
  writer.close()
  info = video_file.probe_video(path)
  assert (info.width, info.height) == size
  assert info.fps == fractions.Fraction(30000, 1001)
  decoded = list(video_file.iter_video_frames(path))
  assert len(decoded) == 5 and decoded[0].shape == (size[1], size[0], 3)
  means = [frame.mean() for frame in decoded]
  np.testing.assert_allclose(means, [30 + 40 * i for i in range(5)], atol=3)


def test_odd_size_in_avi_is_refused(tmp_path):
  with pytest.raises(UserInputError, match="odd side"):
    video_file.VideoWriter(tmp_path / "x.avi", fractions.Fraction(25), 41, 32)


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
