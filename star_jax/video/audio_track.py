"""The input's audio tracks carried into an output video, in sync with its frames.

Each audio stream of the input is stream-copied (bit-exact, no quality loss) when the output
container accepts its codec, and re-encoded to AAC (FFmpeg's native encoder, 192 kb/s per
stereo pair) when it does not (Opus into .mov or .avi, for instance); a track neither way
can take is dropped with a notice. Timestamps keep their distance to the video: every audio
time is shifted by the same ``offset`` (the input's first video timestamp) as the frames.
"""

import dataclasses
import fractions
import pathlib
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import av

COPY = "copy"
REENCODE = "aac"
_AAC_BITS_PER_CHANNEL = 96_000
# Audio is muxed this far ahead of the video frame being written, so the muxer's
# interleaving queue stays short without the audio ever lagging.
_LEAD_SECONDS = fractions.Fraction(1)


@dataclasses.dataclass(frozen=True)
class TrackPlan:
  """One input audio stream (``index`` among the input's audio streams, codec ``codec``)
  and how it goes into the output: ``COPY`` or ``REENCODE``."""
  index: int
  codec: str
  method: str


def add_output_stream(container, template, method: str):
  """Adds the output stream for an input audio stream ``template`` to ``container``."""
  if method == COPY:
    return container.add_stream_from_template(template)
  context = template.codec_context
  stream = container.add_stream(REENCODE, rate=context.sample_rate)
  stream.layout = context.layout
  stream.bit_rate = _AAC_BITS_PER_CHANNEL * max(context.channels, 1)
  return stream


def plan_tracks(input_path: pathlib.Path, accepts: Callable[[object, str], bool]
                ) -> Tuple[List[TrackPlan], List[str]]:
  """How each audio stream of ``input_path`` goes into the output, and notices for the
  tracks that are re-encoded or dropped. ``accepts(template, method)`` says whether an
  output with the video stream and this audio stream opens (the writer's in-memory trial)."""
  plans, notices = [], []
  with av.open(str(input_path)) as source:
    for index, stream in enumerate(source.streams.audio):
      codec = stream.codec_context.name
      for method in (COPY, REENCODE):
        if accepts(stream, method):
          plans.append(TrackPlan(index, codec, method))
          if method == REENCODE:
            notices.append(f"audio track {index} ({codec}) is re-encoded to AAC: the output "
                           "container cannot hold it as it is")
          break
      else:
        notices.append(f"audio track {index} ({codec}) is dropped: the output container "
                       "takes neither it nor AAC")
  return plans, notices


class AudioMuxer:
  """Feeds the planned audio tracks of ``input_path`` into ``outputs`` (the output streams,
  in ``plans`` order), shifted by ``-offset`` seconds; ``mux_until`` keeps the audio just
  ahead of the video, ``finish`` writes the rest.

  ``cut_before_video``: packets that would start before the first video frame (output
  time < 0: an AAC encoder's priming packet, audio that starts early) are left out, for
  containers (AVI) that cannot start one stream earlier than another; elsewhere the muxer
  shifts all streams alike and sync is kept exactly.
  """

  def __init__(self, input_path: pathlib.Path, container, plans: Sequence[TrackPlan],
               outputs: Sequence, offset: fractions.Fraction, cut_before_video: bool = False):
    self._container = container
    self._cut = cut_before_video
    self._source = av.open(str(input_path))
    inputs = [self._source.streams.audio[plan.index] for plan in plans]
    self._routes = {stream.index: (plan, out) for stream, plan, out in
                    zip(inputs, plans, outputs)}
    self._offset = offset
    self._packets: Iterator = iter(self._source.demux(*inputs)) if inputs else iter(())
    self._pending: Optional[av.Packet] = None

  def _mux(self, packet) -> None:
    plan, output = self._routes[packet.stream.index]
    time_base = packet.time_base
    shift = round(self._offset / time_base)
    if plan.method == COPY:
      if packet.pts is not None:
        packet.pts -= shift
      if packet.dts is not None:
        packet.dts -= shift
      packet.stream = output
      self._write(packet)
      return
    for frame in packet.decode():
      if frame.pts is not None:
        frame.pts -= shift
      for encoded in output.encode(frame):
        self._write(encoded)

  def _write(self, packet) -> None:
    if self._cut and packet.pts is not None and packet.pts < 0:
      return
    self._container.mux(packet)

  def mux_until(self, seconds: Optional[fractions.Fraction]) -> None:
    """Muxes every audio packet that starts before ``seconds`` (output time) + the lead;
    all of them for ``None``."""
    limit = None if seconds is None else seconds + _LEAD_SECONDS
    while True:
      packet = self._pending if self._pending is not None else next(self._packets, None)
      self._pending = None
      if packet is None:
        return
      if packet.size == 0:  # the demuxer's end-of-stream marker
        continue
      stamp = packet.pts if packet.pts is not None else packet.dts
      if (limit is not None and stamp is not None and
          stamp * packet.time_base - self._offset > limit):
        self._pending = packet
        return
      self._mux(packet)

  def finish(self) -> None:
    """Muxes the remaining audio and flushes the AAC encoders."""
    self.mux_until(None)
    for plan, output in self._routes.values():
      if plan.method == REENCODE:
        for encoded in output.encode():
          self._write(encoded)
    self._source.close()

  def close(self) -> None:
    self._source.close()
