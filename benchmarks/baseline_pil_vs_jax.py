"""How much the bicubic (+ frame average) baseline's PSNR moves between PIL and
``jax.image.resize`` on the demo dataset's test septuplets.

Until the pixel conventions got one home (``star_jax.pixels``) the showcase computed its
baseline with PIL (each channel of the 8-bit frames' mean resized in PIL's float mode, then
rounded) and training's held-out metrics with ``jax.image.resize``; both now use
``pixels.baseline_predictions``. This script prints, per showcase row kind (plain bicubic at
the input times, bicubic + frame average in between), the mean PSNR of both definitions and
the largest per-frame difference.

Usage:
  python benchmarks/baseline_pil_vs_jax.py [--data-dir workdir/demo_data] [--scale 4]
"""

import argparse

import numpy as np
from PIL import Image

from star_jax.data import demo, frames, vimeo
from star_jax import pixels
from star_jax.infer import showcase


def pil_bicubic_average(before: np.ndarray, after: np.ndarray, scale: int) -> np.ndarray:
  """The showcase's former baseline: PIL BICUBIC per channel in float mode of the mean of
  two uint8 (H, W, 3) frames, clamped and rounded to uint8."""
  mean = (before.astype(np.float32) + after.astype(np.float32)) / 2.0
  height, width = mean.shape[:2]
  channels = [np.asarray(Image.fromarray(np.ascontiguousarray(mean[..., c])).resize(
      (width * scale, height * scale), resample=Image.BICUBIC)) for c in range(3)]
  return np.round(np.clip(np.stack(channels, axis=-1), 0.0, 255.0)).astype(np.uint8)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", default="workdir/demo_data")
  parser.add_argument("--scale", type=int, default=4)
  args = parser.parse_args()
  demo.ensure_demo_dataset(args.data_dir, show_progress=False)
  clips = vimeo.VimeoClips.open(args.data_dir, "septuplet", "test")
  rows = {"bicubic": ([], []), "bicubic + average": ([], [])}
  levels = []
  for clip in clips.clips:
    hr = frames.mod_crop(clips.load_clip(clip), args.scale)
    lr = [frames.lr_from_hr(frame, args.scale) for frame in hr]
    for time in range(len(hr)):  # as the showcase: even times plain, odd times averaged
      before = lr[time - time % 2]
      after = lr[time + 1] if time % 2 else before
      old = pil_bicubic_average(before, after, args.scale)
      new = showcase.bicubic_average(before, after, args.scale)
      levels.append(int(np.abs(old.astype(int) - new.astype(int)).max()))
      pil, jax_ = rows["bicubic + average" if time % 2 else "bicubic"]
      pil.append(pixels.psnr(old, hr[time]))
      jax_.append(pixels.psnr(new, hr[time]))
  print(f"{len(clips.clips)} test septuplets of {args.data_dir}, x{args.scale}; largest "
        f"8-bit difference between the two baselines: {max(levels)} level(s)")
  for name, (pil, jax_) in rows.items():
    moved = np.array(jax_) - np.array(pil)
    print(f"  {name:17s}: PIL {np.mean(pil):.4f} dB, jax.image.resize {np.mean(jax_):.4f} dB "
          f"(mean change {moved.mean():+.6f} dB, largest per frame {np.abs(moved).max():.6f} dB, "
          f"{len(pil)} frames)")


if __name__ == "__main__":
  main()
