"""Video files through PyAV, read: decoding to upright RGB frames with their timestamps.

What a player honours is honoured here:

* orientation: the display matrix (rotation, mirror; ``orientation``) is applied to every
  decoded frame, so frames are what the player shows;
* pixel aspect: the input's sample aspect ratio is reported (swapped when the orientation
  transposes the picture), for the writer to keep;
* timing: the frames' own timestamps (constant or variable rate) and the clip's duration
  (``timeline``), read from the container's packets before any decoding;
* audio: the codec of each audio track is reported (``writer`` and ``audio_track`` carry the
  tracks over).

The writing half is ``star_jax.video.writer``.
"""

import fractions
import pathlib
from typing import Iterator, Optional, Sequence, Tuple

import av
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from star_jax.errors import UserInputError
from star_jax.video import orientation
from star_jax.video.formats import DECODE_ERRORS, PathLike
from star_jax.video.timeline import Timeline

Fraction = fractions.Fraction


class VideoInfo:
  """What the runner needs before decoding.

  ``width``, ``height``: the displayed size (after ``orientation``); ``fps``: the frame
  rate (of the timestamps when evenly spaced, else as the container states it);
  ``frame_count``: the number of frames; ``timeline``:
  their times and the clip's duration; ``start``: the first frame's timestamp in the file
  (seconds; audio is shifted by the same amount); ``orientation``: the display transform;
  ``sample_aspect_ratio``: of the displayed picture (``None``: square pixels or unknown);
  ``audio_codecs``: the codec name of each audio stream.
  """

  def __init__(self, fps: Fraction, width: int, height: int, timeline: Timeline,
               start: Fraction = Fraction(0),
               orientation_: orientation.Orientation = orientation.IDENTITY,
               sample_aspect_ratio: Optional[Fraction] = None,
               audio_codecs: Sequence[str] = ()):
    self.fps, self.width, self.height = fps, width, height
    self.timeline, self.frame_count, self.start = timeline, len(timeline), start
    self.orientation, self.sample_aspect_ratio = orientation_, sample_aspect_ratio
    self.audio_codecs = tuple(audio_codecs)


def _open_video_stream(path: pathlib.Path):
  try:
    container = av.open(str(path), mode="r")
  except DECODE_ERRORS as error:
    raise UserInputError(f"cannot open video {path}: {error}") from error
  if not container.streams.video:
    container.close()
    raise UserInputError(f"{path} has no video stream")
  return container, container.streams.video[0]


def _frame_orientation(frame, path: pathlib.Path) -> orientation.Orientation:
  side_data = frame.side_data.get(SideDataType.DISPLAYMATRIX)
  return orientation.from_side_data(None if side_data is None else bytes(side_data),
                                    f"video {path}")


def _packet_timeline(path: pathlib.Path, container, stream, rate: Fraction
                     ) -> Tuple[Timeline, Fraction]:
  """The frames' presentation times from the packets (demuxed, not decoded) and the first
  timestamp in seconds. Packets without a timestamp fall back to ``rate``."""
  stamps, last_duration, latest = [], 0, None
  for packet in container.demux(stream):
    if packet.size == 0 or packet.is_discard:
      continue
    stamp = packet.pts if packet.pts is not None else packet.dts
    stamps.append(stamp)
    if stamp is not None and (latest is None or stamp > latest):
      latest, last_duration = stamp, packet.duration or 0
  if not stamps:
    raise UserInputError(f"video {path} contains no frames")
  if any(stamp is None for stamp in stamps):
    return Timeline.constant_rate(len(stamps), rate), Fraction(0)
  stamps.sort()
  for earlier, later in zip(stamps, stamps[1:]):
    if later == earlier:
      raise UserInputError(f"video {path}: two frames share the timestamp "
                           f"{float(later * stream.time_base):.6f} s; remux it with fresh "
                           "timestamps first (e.g. ffmpeg -i in.mp4 -fps_mode cfr out.mp4)")
  time_base = Fraction(stream.time_base)
  times = [(stamp - stamps[0]) * time_base for stamp in stamps]
  if not last_duration:
    last_duration = stamps[-1] - stamps[-2] if len(stamps) > 1 else 0
  last = last_duration * time_base if last_duration else 1 / rate
  return Timeline(times, times[-1] + last), stamps[0] * time_base


def probe_video(path: PathLike) -> VideoInfo:
  """Reads ``path``'s header, its packets' timestamps and its first frame; an error naming
  the file if it is not a decodable video or its display matrix cannot be honoured.

  The timestamps come from demuxing every packet of the video stream (the whole file is
  read once; nothing but the first frame is decoded).
  """
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
    sample_aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    audio_codecs = [audio.codec_context.name for audio in container.streams.audio]
    try:
      timeline, start = _packet_timeline(path, container, stream, Fraction(rate))
    except DECODE_ERRORS as error:
      raise UserInputError(f"cannot read the packets of video {path}: {error}") from error
  container, stream = _open_video_stream(path)
  with container:
    try:
      first = next(iter(container.decode(stream)), None)
    except DECODE_ERRORS as error:
      raise UserInputError(f"cannot decode frame 0 of video {path}: {error}") from error
    if first is None:
      raise UserInputError(f"video {path} contains no decodable frames")
    orient = _frame_orientation(first, path)
  width, height = orient.displayed_size(width, height)
  if sample_aspect and Fraction(sample_aspect) != 1:
    sample_aspect = Fraction(sample_aspect)
    sample_aspect = 1 / sample_aspect if orient.transpose else sample_aspect
  else:
    sample_aspect = None
  # The timestamps' own rate when they are evenly spaced (exact, and unaffected by a last
  # frame shown longer), else the rate the container states (its average or nominal one).
  fps = timeline.frame_rate if len(timeline) > 1 and timeline.is_constant_rate() else rate
  return VideoInfo(Fraction(fps), width, height, timeline, start, orient, sample_aspect,
                   audio_codecs)


def iter_video_frames(path: PathLike, frame_count: Optional[int] = None
                      ) -> Iterator[np.ndarray]:
  """Decodes ``path`` to (H, W, 3) uint8 RGB frames as displayed, one at a time.

  Frames of any pixel format (grayscale, yuv, with alpha, 10/16-bit) are converted by
  libswscale to 8-bit RGB (alpha dropped) with the frame's own colour matrix, then turned
  by its display matrix; a decoding failure part-way names the file and the frame index,
  and so does a frame beyond ``frame_count`` (the probe's count: it would have no time).
  """
  path = pathlib.Path(path)
  container, stream = _open_video_stream(path)
  index = 0
  with container:
    try:
      for frame in container.decode(stream):
        if frame_count is not None and index >= frame_count:
          raise UserInputError(f"video {path} decodes to more frames than the {frame_count} "
                               "its container indexes; remux it first (e.g. ffmpeg -i in "
                               "-c copy out.mkv)")
        yield _frame_orientation(frame, path).apply(frame.to_ndarray(format="rgb24"))
        index += 1
    except DECODE_ERRORS as error:
      raise UserInputError(f"cannot decode frame {index} of video {path}: {error}") from error
