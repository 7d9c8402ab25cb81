"""Video files through PyAV: decoding to upright RGB frames with their timestamps, and
encoding frames to a new file that plays as the input did.

What a player honours is honoured here:

* orientation: the display matrix (rotation, mirror; ``orientation``) is applied to every
  decoded frame, so frames are what the player shows; the output is written upright, with
  no rotation tag;
* pixel aspect: the input's sample aspect ratio is written to the output (swapped when the
  orientation transposes the picture);
* timing: the frames' own timestamps (constant or variable rate) and the clip's duration
  (``timeline``), read from the container's packets before any decoding;
* audio: the input's audio tracks, copied or re-encoded (``audio_track``);
* colour: frames are converted to Y'CbCr with the BT.601 matrix in limited range and the
  output is tagged so (untagged HD video is shown with BT.709 by most players; FFmpeg's
  MPEG-4 Part 2 encoder, used for .avi, writes no tag).

Encoding uses H.264 (libx264, CRF 17: visually lossless at a modest size; no B-frames, so
MP4 stores each frame's display duration) when the wheel has it, else MPEG-4 Part 2,
always in the container named by the output's extension.
The encoder, container and audio tracks are opened (in memory first, then on the file)
when the writer is made, so a setting they refuse fails before any frame is computed.
"""

import fractions
import io
import pathlib
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import av
import av.error
import numpy as np
from av.sidedata.sidedata import Type as SideDataType
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc

from star_jax.infer import audio_track, orientation
from star_jax.errors import UserInputError
from star_jax.infer.timeline import Timeline

PathLike = Union[str, pathlib.Path]
Fraction = fractions.Fraction
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv")
_CONTAINER_FORMATS = {".mp4": "mp4", ".mov": "mov", ".avi": "avi", ".mkv": "matroska"}
DEFAULT_PIX_FMT = "yuv420p"
# MPEG-4 Part 2 codes the time base denominator (vop_time_increment_resolution) in 16 bits
# (ISO/IEC 14496-2, 6.3.3), and FFmpeg's encoder refuses more; H.263-family encoders share it.
_SHORT_TIME_BASE_DENOMINATOR = (1 << 16) - 1
# What a decoder, demuxer or muxer raises on a file or setting it cannot handle.
_DECODE_ERRORS = (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError)


def is_video_path(path: PathLike) -> bool:
  return pathlib.Path(path).suffix.lower() in VIDEO_EXTENSIONS


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
  except _DECODE_ERRORS as error:
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
    except _DECODE_ERRORS as error:
      raise UserInputError(f"cannot read the packets of video {path}: {error}") from error
  container, stream = _open_video_stream(path)
  with container:
    try:
      first = next(iter(container.decode(stream)), None)
    except _DECODE_ERRORS as error:
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


def padded_size(width: int, height: int, pix_fmt: str) -> Tuple[int, int]:
  """The smallest size >= (width, height) that ``pix_fmt``'s chroma subsampling allows
  (even sides for 4:2:0, an even width for 4:2:2, any size for 4:4:4)."""
  chroma = av.VideoFormat(pix_fmt, 1024, 1024).components[-1]
  step_x = 1024 // chroma.width if chroma.width else 1
  step_y = 1024 // chroma.height if chroma.height else 1
  return -(-width // step_x) * step_x, -(-height // step_y) * step_y


def check_pix_fmt(path: PathLike, pix_fmt: str) -> str:
  """The encoder for ``path``'s extension; ``UserInputError`` naming ``pix_fmt`` if that
  encoder does not take it (cheap: call it before loading a model)."""
  extension = pathlib.Path(path).suffix.lower()
  codec = _pick_codec(extension)
  formats = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
  if pix_fmt not in formats:
    raise UserInputError(f"pix_fmt {pix_fmt}: {codec} (the encoder for {extension}) "
                         f"encodes {', '.join(formats)}", ("pix_fmt",))
  return codec


class AudioSource:
  """The input whose audio tracks go into the output, and the input time (seconds) that
  becomes output time 0 (the first video frame's timestamp)."""

  def __init__(self, path: PathLike, offset: Fraction = Fraction(0)):
    self.path, self.offset = pathlib.Path(path), Fraction(offset)


def check_output(path: PathLike, timeline: Timeline, width: int, height: int,
                 pix_fmt: str = DEFAULT_PIX_FMT) -> List[str]:
  """Opens, in memory only, what ``VideoWriter(path, timeline, width, height, pix_fmt)``
  would open, for a caller that writes the file only after its compute; returns the
  writer's notices or raises its ``UserInputError``. ``path`` is not created."""
  return VideoWriter(path, timeline, width, height, pix_fmt, _open_file=False).notices


class VideoWriter:
  """Encodes (H, W, 3) uint8 RGB frames into ``path`` at the times of ``timeline``.

  Frame k is shown at ``timeline.times[k]`` for ``timeline.durations()[k]``; the time base is
  ``timeline.tick()`` (exact), or, for codecs that cannot take it (MPEG-4 Part 2 beyond a
  16-bit denominator), the nearest rational with a 16-bit denominator, every timestamp then
  rounded to it (a notice says so). ``pix_fmt`` (default yuv420p, the one every player
  decodes) must be one the codec encodes; frames are padded at the right/bottom edge, by
  repeating the last column/row, to the size it needs (a notice says so).
  ``sample_aspect_ratio`` is written when given; ``audio`` (an :class:`AudioSource`) adds
  the input's audio tracks. The container comes from ``path``'s extension; the caller
  passes a temporary path whose extension matches the final one (see ``atomic_output``).

  Raises ``UserInputError`` (one line naming the value) when the container, codec, size,
  pixel format or time base cannot be opened -- before any frame is written.
  ``notices`` lists one line per thing changed or dropped (padding, rounded time base,
  re-encoded or dropped audio).
  """

  def __init__(self, path: PathLike, timeline: Timeline, width: int, height: int,
               pix_fmt: str = DEFAULT_PIX_FMT,
               sample_aspect_ratio: Optional[Fraction] = None,
               audio: Optional[AudioSource] = None, _open_file: bool = True):
    path = pathlib.Path(path)
    extension = path.suffix.lower()
    if extension not in _CONTAINER_FORMATS:
      raise UserInputError(
          f"output video {path} must end in one of {', '.join(VIDEO_EXTENSIONS)}")
    self._format = _CONTAINER_FORMATS[extension]
    self._codec = check_pix_fmt(path, pix_fmt)
    self.notices: List[str] = []
    self.pix_fmt, self.width, self.height = pix_fmt, width, height
    self.coded_width, self.coded_height = padded_size(width, height, pix_fmt)
    if (self.coded_width, self.coded_height) != (width, height):
      self.notices.append(
          f"output {width}x{height} is padded to {self.coded_width}x{self.coded_height} "
          f"(edge pixels repeated) because {pix_fmt} needs "
          f"{'even sides' if padded_size(1, 1, pix_fmt)[1] == 2 else 'an even width'}; "
          "--pix-fmt yuv444p keeps the exact size (fewer players decode it)")
    self._sample_aspect_ratio = sample_aspect_ratio
    self._frame_rate = timeline.frame_rate.limit_denominator(1 << 20)
    self.time_base = self._choose_time_base(timeline.tick(), path)
    self._times = [round(t / self.time_base) for t in timeline.times]
    end = round(timeline.end / self.time_base)
    if any(b <= a for a, b in zip(self._times, self._times[1:] + [end])):
      raise UserInputError(f"output video {path}: frames closer than the time base "
                           f"{self.time_base} s of {self._codec} would share a timestamp")
    self._durations = dict(zip(self._times, np.diff(self._times + [end]).tolist()))
    self._output_times = timeline.times
    self._plans: List[audio_track.TrackPlan] = []
    if audio is not None:
      self._plans, audio_notices = audio_track.plan_tracks(audio.path, self._accepts_audio)
      self.notices.extend(audio_notices)
    if not _open_file:  # check_output: every decision and trial made, no file touched
      return
    self._container = av.open(str(path), mode="w", format=self._format)
    self._audio = None
    try:
      self._stream, outputs = self._configure(self._container, self.time_base,
                                              audio.path if audio else None, self._plans)
      if self._plans:
        self._audio = audio_track.AudioMuxer(audio.path, self._container, self._plans,
                                             outputs, audio.offset,
                                             cut_before_video=self._format == "avi")
      self._container.start_encoding()
    except _DECODE_ERRORS as error:
      self.abort()
      raise UserInputError(f"cannot open output video {path}: {error}") from error
    self.frames_written = 0

  def _configure(self, container, time_base: Fraction, audio_path: Optional[pathlib.Path],
                 plans: Sequence[audio_track.TrackPlan], trial_audio=None):
    """Adds the video stream (and audio streams) to ``container``; returns them."""
    stream = container.add_stream(self._codec, rate=self._frame_rate, time_base=time_base)
    stream.width, stream.height = self.coded_width, self.coded_height
    stream.pix_fmt = self.pix_fmt
    context = stream.codec_context
    context.time_base = time_base
    context.colorspace, context.color_range = Colorspace.ITU601, ColorRange.MPEG
    context.color_primaries, context.color_trc = ColorPrimaries.SMPTE170M, ColorTrc.SMPTE170M
    if self._sample_aspect_ratio:
      context.sample_aspect_ratio = self._sample_aspect_ratio
    if self._codec == "libx264":
      # No B-frames: decode order is display order, so MP4/MOV sample durations are the
      # frames' display durations and the last frame lasts until the clip's end.
      stream.options = {"crf": "17", "preset": "medium", "bf": "0"}
    else:
      stream.bit_rate = int(self.coded_width * self.coded_height * float(self._frame_rate) / 2)
    outputs = []
    if trial_audio is not None:
      outputs.append(trial_audio(container))
    elif plans:
      with av.open(str(audio_path)) as source:
        for plan in plans:
          outputs.append(audio_track.add_output_stream(
              container, source.streams.audio[plan.index], plan.method))
    return stream, outputs

  def _trial(self, time_base: Fraction, trial_audio=None) -> None:
    """Opens the encoder(s) and writes the header into memory; raises what FFmpeg raises."""
    container = av.open(io.BytesIO(), mode="w", format=self._format)
    try:
      self._configure(container, time_base, None, (), trial_audio)
      container.start_encoding()
    finally:
      try:
        container.close()
      except _DECODE_ERRORS:
        pass

  def _choose_time_base(self, tick: Fraction, path: pathlib.Path) -> Fraction:
    try:
      self._trial(tick)
      return tick
    except _DECODE_ERRORS as error:
      exact_error = error
    if tick.denominator > _SHORT_TIME_BASE_DENOMINATOR:
      short = tick.limit_denominator(_SHORT_TIME_BASE_DENOMINATOR)
      if short > 0:
        try:
          self._trial(short)
        except _DECODE_ERRORS:
          pass
        else:
          self.notices.append(
              f"{self._codec} cannot take the time base {tick} s (denominator above "
              f"{_SHORT_TIME_BASE_DENOMINATOR}); timestamps are rounded to {short} s ticks")
          return short
    raise UserInputError(
        f"output video {path}: {self._codec} in {self._format} cannot be opened for "
        f"{self.coded_width}x{self.coded_height} {self.pix_fmt} at time base {tick} s "
        f"({float(self._frame_rate):.3f} fps): {exact_error}")

  def _accepts_audio(self, template, method: str) -> bool:
    try:
      self._trial(self.time_base,
                  lambda container: audio_track.add_output_stream(container, template, method))
    except _DECODE_ERRORS:
      return False
    return True

  def write(self, frame_uint8: np.ndarray) -> None:
    """Encodes the next frame (H, W, 3) uint8 RGB of the size given at construction."""
    if self.frames_written >= len(self._times):
      raise ValueError(f"the timeline has {len(self._times)} frames; no time for another")
    frame_uint8 = np.asarray(frame_uint8)
    pad_y, pad_x = self.coded_height - frame_uint8.shape[0], self.coded_width - frame_uint8.shape[1]
    if pad_y or pad_x:
      frame_uint8 = np.pad(frame_uint8, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_uint8), format="rgb24")
    frame = frame.reformat(format=self.pix_fmt, dst_colorspace=Colorspace.ITU601,
                           dst_color_range=ColorRange.MPEG)
    frame.pts, frame.time_base = self._times[self.frames_written], self.time_base
    if self._audio is not None:
      self._audio.mux_until(self._output_times[self.frames_written])
    self._mux_video(self._stream.encode(frame))
    self.frames_written += 1

  def _mux_video(self, packets) -> None:
    for packet in packets:
      if packet.pts is not None and packet.pts in self._durations:
        packet.duration = self._durations[packet.pts]
      self._container.mux(packet)

  def close(self) -> None:
    """Flushes the encoders and finalises the container (call once, after the last frame)."""
    self._mux_video(self._stream.encode())
    if self._audio is not None:
      self._audio.finish()
    self._container.close()

  def abort(self) -> None:
    """Closes without flushing; the caller deletes the partial file."""
    if self._audio is not None:
      self._audio.close()
    try:
      self._container.close()
    except _DECODE_ERRORS:
      pass
