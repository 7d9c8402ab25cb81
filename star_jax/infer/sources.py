"""Where input frames come from and where output frames go: a video file or a frame folder.

Inputs are checked before any model is loaded (path exists, decodable header, frames all
one size, at least two frames when the count is known), so a bad input fails in a second
with a message naming it.
"""

import fractions
import pathlib
from typing import Callable, Iterator, Optional, Union

import numpy as np

from star_jax.infer import frame_folder, video_file
from star_jax.infer.errors import UserInputError

PathLike = Union[str, pathlib.Path]
DEFAULT_FOLDER_FPS = fractions.Fraction(30)


class FrameSource:
  """A checked input: its size, frame rate, frame count if known, and a frame iterator."""

  def __init__(self, name: str, width: int, height: int, fps: fractions.Fraction,
               frame_count: Optional[int], frames: Callable[[], Iterator[np.ndarray]]):
    self.name, self.width, self.height, self.fps = name, width, height, fps
    self.frame_count = frame_count
    self.frames = frames


def open_source(path: PathLike, folder_fps: Optional[fractions.Fraction] = None) -> FrameSource:
  """A video file or a folder of frames (``folder_fps`` is the folder's frame rate)."""
  path = pathlib.Path(path)
  if path.is_dir():
    files = frame_folder.list_frame_files(path)
    width, height = frame_folder.check_same_size(files)
    source = FrameSource(f"frame folder {path}", width, height,
                         fractions.Fraction(folder_fps or DEFAULT_FOLDER_FPS), len(files),
                         lambda: frame_folder.iter_folder_frames(files))
  elif path.is_file():
    info = video_file.probe_video(path)
    source = FrameSource(f"video {path}", info.width, info.height, info.fps, info.frame_count,
                         lambda: video_file.iter_video_frames(path))
  else:
    raise UserInputError(f"input {path} does not exist")
  if source.frame_count is not None and source.frame_count < 2:
    raise UserInputError(f"{source.name} has {source.frame_count} frame"
                         f"{'' if source.frame_count == 1 else 's'}; at least 2 are needed")
  return source


def output_kind(path: PathLike) -> str:
  """'video' for a video extension, 'folder' for a name without an image extension."""
  path = pathlib.Path(path)
  if video_file.is_video_path(path):
    return "video"
  if path.suffix.lower() in frame_folder.FRAME_EXTENSIONS:
    raise UserInputError(
        f"output {path} must be a video file ({', '.join(video_file.VIDEO_EXTENSIONS)}) or a "
        "folder for PNG frames, not a single image")
  if path.suffix:
    raise UserInputError(
        f"output {path}: unknown video extension {path.suffix!r} (use "
        f"{', '.join(video_file.VIDEO_EXTENSIONS)}, or a name without extension for a folder)")
  return "folder"


class FrameSink:
  """Writes output frames into a (temporary) video file or folder."""

  def __init__(self, kind: str, path: pathlib.Path, fps: fractions.Fraction, width: int,
               height: int):
    self.kind, self.path = kind, path
    self.frames_written = 0
    if kind == "video":
      self._writer = video_file.VideoWriter(path, fps, width, height)
    else:
      path.mkdir()

  def write(self, frame: np.ndarray) -> None:
    if self.kind == "video":
      self._writer.write(frame)
    else:
      frame_folder.write_png(self.path, self.frames_written, frame)
    self.frames_written += 1

  def close(self, success: bool) -> None:
    if self.kind == "video":
      if success:
        self._writer.close()
      else:
        self._writer.abort()
