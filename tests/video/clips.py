"""Test clips made independently of the code under test: frames of a real photograph
moving across the view, and video files written and read with PyAV directly."""

import fractions

import av
import numpy as np
from PIL import Image
from skimage import data as skimage_data


def moving_frames(count, width, height, step=(2, 1), gray=False):
  """``count`` uint8 RGB frames: a window moving ``step`` px per frame over a photograph
  (downscaled 4x so the content is detailed at this size)."""
  photo = np.asarray(Image.fromarray(skimage_data.astronaut()).resize((128, 128),
                                                                      Image.BICUBIC))
  frames = []
  for index in range(count):
    top, left = 20 + step[1] * index, 10 + step[0] * index
    frame = photo[top:top + height, left:left + width]
    frames.append(np.dstack([frame.mean(axis=2).astype(np.uint8)] * 3) if gray else frame)
  return frames


def write_clip(path, frames, times, end=None, rotation=None, audio_codec=None,
               sample_aspect_ratio=None, time_base=fractions.Fraction(1, 12000)):
  """Writes ``frames`` (stored, uint8 RGB) with PyAV directly (independently of the code
  under test): frame k at ``times[k]`` seconds, the last shown until ``end``;
  ``rotation`` = (degrees counter-clockwise, hflip, vflip) as a display matrix;
  ``audio_codec`` adds a 440 Hz stereo tone at 48 kHz from 0 to ``end``. Odd sizes are
  written yuv444p, others yuv420p."""
  end = end if end is not None else times[-1] + (times[-1] - times[-2])
  height, width = frames[0].shape[:2]
  with av.open(str(path), "w") as container:
    stream = container.add_stream("libx264", rate=24, time_base=time_base)
    odd = width % 2 or height % 2
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv444p" if odd else "yuv420p"
    stream.codec_context.time_base = time_base
    stream.options = {"qp": "4", "bf": "0"}
    if sample_aspect_ratio is not None:
      stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
    if rotation is not None:
      stream.set_display_rotation(rotation[0], hflip=rotation[1], vflip=rotation[2])
    audio = None
    if audio_codec is not None:
      audio = container.add_stream(audio_codec, rate=48000)
      audio.layout = "stereo"
    stamps = [round(t / time_base) for t in times] + [round(end / time_base)]
    durations = {a: b - a for a, b in zip(stamps, stamps[1:])}

    def mux(packets):
      for packet in packets:  # no B-frames: durations are display durations
        packet.duration = durations[packet.pts]
        container.mux(packet)

    for index, frame in enumerate(frames):
      video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
      video_frame.pts, video_frame.time_base = stamps[index], time_base
      mux(stream.encode(video_frame))
    mux(stream.encode())
    if audio is not None:
      samples = int(round(end * 48000))
      tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
      for start in range(0, samples, 960):
        chunk = np.ascontiguousarray(np.stack([tone[start:start + 960]] * 2))
        audio_frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        audio_frame.sample_rate, audio_frame.pts = 48000, start
        audio_frame.time_base = fractions.Fraction(1, 48000)
        for packet in audio.encode(audio_frame):
          container.mux(packet)
      for packet in audio.encode():
        container.mux(packet)
  return path


def read_streams(path):
  """(video frame times in seconds, video end, [(audio start, audio end) per audio stream],
  the video stream's pix_fmt, its (width, height)) of a file, decoded with PyAV."""
  with av.open(str(path)) as container:
    video = container.streams.video[0]
    frames = list(container.decode(video))
    times = [frame.pts * frame.time_base for frame in frames]
    last = frames[-1].duration * frames[-1].time_base if frames[-1].duration else 0
    info = (video.codec_context.pix_fmt, (video.codec_context.width,
                                          video.codec_context.height))
  audio_spans = []
  with av.open(str(path)) as container:
    for stream in container.streams.audio:
      packets = [p for p in container.demux(stream) if p.size]
      container.seek(0)
      audio_spans.append((packets[0].pts * packets[0].time_base,
                          max((p.pts + p.duration) * p.time_base for p in packets)))
  return times, times[-1] + last, audio_spans, info[0], info[1]
