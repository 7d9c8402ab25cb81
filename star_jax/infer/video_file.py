"""Video files through PyAV: decoding to RGB frames and encoding frames to a new file.

Decoding streams frame by frame, so memory does not grow with the video's length.
Encoding uses H.264 (libx264, CRF 17: visually lossless at a modest size) when the wheel
has it, else MPEG-4 Part 2, always in the container named by the output's extension.
"""

import fractions
import pathlib
from typing import Iterator, Optional, Union

import av
import av.error
import numpy as np

from star_jax.infer.errors import UserInputError

PathLike = Union[str, pathlib.Path]
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv")
_CONTAINER_FORMATS = {".mp4": "mp4", ".mov": "mov", ".avi": "avi", ".mkv": "matroska"}
# What a decoder or demuxer raises on a file it cannot handle.
_DECODE_ERRORS = (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError)


def is_video_path(path: PathLike) -> bool:
  return pathlib.Path(path).suffix.lower() in VIDEO_EXTENSIONS


class VideoInfo:
  """What the runner needs before decoding: frame rate, size, and the frame count if the
  container records it (``None`` otherwise)."""

  def __init__(self, fps: fractions.Fraction, width: int, height: int,
               frame_count: Optional[int]):
    self.fps, self.width, self.height, self.frame_count = fps, width, height, frame_count


def _open_video_stream(path: pathlib.Path):
  try:
    container = av.open(str(path), mode="r")
  except _DECODE_ERRORS as error:
    raise UserInputError(f"cannot open video {path}: {error}") from error
  if not container.streams.video:
    container.close()
    raise UserInputError(f"{path} has no video stream")
  return container, container.streams.video[0]


def probe_video(path: PathLike) -> VideoInfo:
  """Reads the header of ``path``; an error naming the file if it is not a decodable video."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise UserInputError(f"input video {path} does not exist")
  container, stream = _open_video_stream(path)
  with container:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
      raise UserInputError(f"video {path} does not state a frame rate")
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
      raise UserInputError(f"video {path} does not state a frame size")
    count = stream.frames if stream.frames and stream.frames > 0 else None
    return VideoInfo(fractions.Fraction(rate), width, height, count)


def iter_video_frames(path: PathLike) -> Iterator[np.ndarray]:
  """Decodes ``path`` to (H, W, 3) uint8 RGB frames, one at a time.

  Frames of any pixel format (grayscale, yuv, with alpha, 10/16-bit) are converted by
  libswscale to 8-bit RGB (alpha dropped); a decoding failure part-way names the file and the frame index.
  """
  path = pathlib.Path(path)
  container, stream = _open_video_stream(path)
  index = 0
  with container:
    try:
      for frame in container.decode(stream):
        yield frame.to_ndarray(format="rgb24")
        index += 1
    except _DECODE_ERRORS as error:
      raise UserInputError(f"cannot decode frame {index} of video {path}: {error}") from error


def _pick_codec(extension: str) -> str:
  """libx264 for modern containers when available, MPEG-4 Part 2 (in every FFmpeg build)
  otherwise and for AVI (whose players expect it)."""
  if extension != ".avi":
    try:
      av.codec.Codec("libx264", "w")
      return "libx264"
    except _DECODE_ERRORS:
      pass
  return "mpeg4"


class VideoWriter:
  """Encodes (H, W, 3) uint8 RGB frames at a fixed rate into ``path``.

  The container comes from ``path``'s extension; the caller passes a temporary path whose
  extension matches the final one (see ``atomic_output``).
  """

  def __init__(self, path: PathLike, fps: fractions.Fraction, width: int, height: int):
    path = pathlib.Path(path)
    extension = path.suffix.lower()
    if extension not in _CONTAINER_FORMATS:
      raise UserInputError(
          f"output video {path} must end in one of {', '.join(VIDEO_EXTENSIONS)}")
    codec = _pick_codec(extension)
    self._container = av.open(str(path), mode="w", format=_CONTAINER_FORMATS[extension])
    self._stream = self._container.add_stream(codec, rate=fractions.Fraction(fps))
    self._stream.width, self._stream.height = width, height
    # 4:2:0 chroma needs even sides; odd sizes (time-only mode keeps the input size) are
    # encoded 4:4:4, which libx264 supports and mpeg4 does not.
    even = width % 2 == 0 and height % 2 == 0
    if not even and codec != "libx264":
      self._container.close()
      raise UserInputError(
          f"output video {path}: {width}x{height} has an odd side, which {codec} in "
          f"{extension} cannot encode; write a frame folder or an .mp4/.mkv instead")
    self._stream.pix_fmt = "yuv420p" if even else "yuv444p"
    if codec == "libx264":
      self._stream.options = {"crf": "17", "preset": "medium"}
    else:
      self._stream.bit_rate = int(width * height * float(fps) * 0.5)
    self.frames_written = 0

  def write(self, frame_uint8: np.ndarray) -> None:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_uint8), format="rgb24")
    for packet in self._stream.encode(frame):
      self._container.mux(packet)
    self.frames_written += 1

  def close(self) -> None:
    """Flushes the encoder and finalises the container (call once, after the last frame)."""
    for packet in self._stream.encode():
      self._container.mux(packet)
    self._container.close()

  def abort(self) -> None:
    """Closes without flushing; the caller deletes the partial file."""
    self._container.close()
