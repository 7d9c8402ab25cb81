"""Where input frames come from and where output frames go: a video file or a frame folder.

Inputs are checked before any model is loaded (path exists, decodable header and packet
timestamps, display matrix, frames all one size, at least two frames), so a bad input fails
in a second with a message naming it. A video keeps its own timing (``timeline``), a frame
folder gets ``fps`` (default 30) frames per second.
"""

import fractions
import pathlib
from typing import Callable, Iterator, List, Optional, Union

import numpy as np

from star_jax.infer import frame_folder, video_file
from star_jax.errors import UserInputError
from star_jax.infer.timeline import Timeline

PathLike = Union[str, pathlib.Path]
DEFAULT_FOLDER_FPS = fractions.Fraction(30)


class FrameSource:
  """A checked input (``path``): its displayed size, stated frame rate, frame times
  (``timeline``), a frame iterator, and for a video its ``info`` (``video_file.VideoInfo``:
  start time, orientation, pixel aspect, audio tracks; ``None`` for a folder)."""

  def __init__(self, name: str, width: int, height: int, fps: fractions.Fraction,
               timeline: Timeline, frames: Callable[[], Iterator[np.ndarray]],
               path: pathlib.Path, info: Optional[video_file.VideoInfo] = None):
    self.name, self.width, self.height, self.fps = name, width, height, fps
    self.path = path
    self.timeline, self.frame_count = timeline, len(timeline)
    self.frames, self.info = frames, info


def open_source(path: PathLike, folder_fps: Optional[fractions.Fraction] = None) -> FrameSource:
  """A video file or a folder of frames (``folder_fps`` is the folder's frame rate)."""
  path = pathlib.Path(path)
  if path.is_dir():
    files = frame_folder.list_frame_files(path)
    width, height = frame_folder.check_same_size(files)
    fps = fractions.Fraction(folder_fps or DEFAULT_FOLDER_FPS)
    source = FrameSource(f"frame folder {path}", width, height, fps,
                         Timeline.constant_rate(len(files), fps),
                         lambda: frame_folder.iter_folder_frames(files), path)
  elif path.is_file():
    info = video_file.probe_video(path)
    source = FrameSource(f"video {path}", info.width, info.height, info.fps, info.timeline,
                         lambda: video_file.iter_video_frames(path, info.frame_count), path, info)
  else:
    raise UserInputError(f"input {path} does not exist")
  if source.frame_count < 2:
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
  """Writes output frames into a (temporary) video file or folder.

  A video gets the frame times of ``timeline``, ``pix_fmt``, the source's pixel aspect and,
  unless ``keep_audio`` is false, the source's audio tracks; the encoder is opened here,
  so a setting it refuses fails before any frame is computed. ``notices``: one line per
  thing changed or dropped (padding, time base rounding, audio re-encoded or dropped).
  """

  def __init__(self, kind: str, path: pathlib.Path, timeline: Timeline, width: int,
               height: int, source: Optional[FrameSource] = None,
               pix_fmt: str = video_file.DEFAULT_PIX_FMT, keep_audio: bool = True):
    self.kind, self.path = kind, path
    self.frames_written = 0
    self.notices: List[str] = []
    info = source.info if source is not None else None
    has_audio = info is not None and bool(info.audio_codecs)
    if info is not None and not info.orientation.is_identity:
      self.notices.append(f"{source.name} is shown {info.orientation.describe()} by its "
                          "display matrix: frames are enhanced as shown and written upright "
                          "(no rotation tag)")
    if kind == "video":
      audio = (video_file.AudioSource(source.path, info.start)
               if has_audio and keep_audio else None)
      self._writer = video_file.VideoWriter(
          path, timeline, width, height, pix_fmt,
          info.sample_aspect_ratio if info is not None else None, audio)
      self.notices.extend(self._writer.notices)
    else:
      if has_audio and keep_audio:
        self.notices.append(f"the audio of {source.name} is not kept: a frame folder holds "
                            "no audio (write a video file to keep it)")
      if info is not None and not timeline.is_constant_rate():
        self.notices.append(f"{source.name} has a variable frame rate; PNG frames carry no "
                            "timestamps (write a video file to keep them)")
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
