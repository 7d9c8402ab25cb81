"""What the video reader and writer share: the container extensions and the errors PyAV
raises on a file or setting it cannot handle."""

import pathlib
from typing import Union

import av.error

PathLike = Union[str, pathlib.Path]
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv")
CONTAINER_FORMATS = {".mp4": "mp4", ".mov": "mov", ".avi": "avi", ".mkv": "matroska"}
# What a decoder, demuxer or muxer raises on a file or setting it cannot handle.
DECODE_ERRORS = (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError)


def is_video_path(path: PathLike) -> bool:
  """Whether ``path`` ends in one of ``VIDEO_EXTENSIONS`` (any case)."""
  return pathlib.Path(path).suffix.lower() in VIDEO_EXTENSIONS
