"""File size of the video writer's H.264 settings with and without B-frames.

The writer encodes with ``bf=0`` (no B-frames) so that MP4/MOV sample durations are the
frames' display durations and a clip keeps its duration exactly; this measures what that
costs in bytes at the writer's CRF 17 / preset medium, on 60 frames of a photograph panning
1 px per frame, bicubic-upscaled 4x to 384x320 (smooth, like super-resolved output).

  python benchmarks/archive/bench_video_bframes.py
"""

import io

import av
import numpy as np
from PIL import Image
from skimage import data as skimage_data


def _frames(count=60, width=96, height=80, scale=4):
  photo = np.asarray(Image.fromarray(skimage_data.astronaut()).resize((128, 128),
                                                                      Image.BICUBIC))
  return [np.asarray(Image.fromarray(photo[20 + k:20 + k + height, 10 + k:10 + k + width])
                     .resize((width * scale, height * scale), Image.BICUBIC))
          for k in range(count)]


def encoded_bytes(frames, b_frames):
  buffer = io.BytesIO()
  with av.open(buffer, "w", format="mp4") as container:
    stream = container.add_stream("libx264", rate=24)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = "yuv420p"
    options = {"crf": "17", "preset": "medium"}
    if not b_frames:
      options["bf"] = "0"
    stream.options = options
    for frame in frames:
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return len(buffer.getvalue())


def main():
  frames = _frames()
  without, with_b = encoded_bytes(frames, False), encoded_bytes(frames, True)
  print(f"bf=0: {without} bytes; libx264 default B-frames: {with_b} bytes; "
        f"ratio {without / with_b:.3f}")


if __name__ == "__main__":
  main()
