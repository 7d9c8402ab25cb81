"""Reference points for the training demo, and whether a trained model uses its flow inputs.

Usage:
  python benchmarks/archive/demo_diagnostics.py [--data-dir workdir/demo_data]
  python benchmarks/archive/demo_diagnostics.py --weights workdir/demo/model

Without ``--weights``: PSNR on the held-out demo triplets of simple predictors (bicubic of
each LR frame, the bicubic + frame-average baseline the demo must beat, the average of the
true HR frames), which bound what fusion without motion compensation can reach.
With ``--weights``: ht PSNR of that model with its network flow inputs as computed, zeroed,
negated and tripled; the drop tells how much the model relies on the flows.
"""

import argparse

import jax
import numpy as np

from star_jax.weights import load_weights
from star_jax.data import demo, flow_cache, frames, pipeline, vimeo
from star_jax import pixels
from star_jax import showcase
from star_jax.model import build_model

SCALE = 4


def reference_points(root) -> None:
  clips = vimeo.VimeoClips.open(root, "triplet", "test")
  rows = {"bicubic(LR im1) vs HR im1": [], "bicubic(LR im2) vs HR im2": [],
          "baseline: bicubic(mean(LR im1, LR im3)) vs HR im2": [],
          "mean(HR im1, HR im3) vs HR im2": [], "bicubic(LR im1) vs HR im2": []}
  for clip in clips.clips:
    hr = frames.mod_crop(clips.load_clip(clip), SCALE)
    lr = [frames.lr_from_hr(frame, SCALE) for frame in hr]
    # bicubic_average of a frame with itself is that frame's bicubic upscale.
    up = [showcase.bicubic_average(frame, frame, SCALE) for frame in lr]
    predictions = (up[0], up[1], showcase.bicubic_average(lr[0], lr[2], SCALE),
                   pixels.to_uint8((pixels.to_float(hr[0]) + pixels.to_float(hr[2])) / 2), up[0])
    targets = (hr[0], hr[1], hr[1], hr[1], hr[1])
    for values, prediction, target in zip(rows.values(), predictions, targets):
      values.append(pixels.psnr(prediction, target))
  print(f"{len(clips.clips)} held-out triplets of {root}")
  for name, values in rows.items():
    print(f"  {np.mean(values):6.2f} dB  {name}")


def flow_ablation(root, weights) -> None:
  model_config, variables = load_weights(weights)
  model = build_model(model_config)
  flow_cache.ensure_flow_cache(root, "test", scale=int(model_config["scale"]), progress=False)
  forward = jax.jit(lambda *inputs: model.apply(variables, *inputs, train=False)["ht"])
  dataset = pipeline.make_dataset(pipeline.PipelineConfig(
      root=str(root), split="test", scale=int(model_config["scale"]), batch_size=8,
      augment=False, shuffle=False, num_epochs=1, drop_remainder=False))
  factors = {"as computed": 1.0, "zeroed": 0.0, "negated": -1.0, "tripled": 3.0}
  psnrs = {name: [] for name in factors}
  for batch in dataset:
    target = np.asarray(pixels.normalised_to_uint8(batch["hr_t"]))
    for name, factor in factors.items():
      ht = forward(batch["im1"], batch["im2"], factor * batch["flow_f"], factor * batch["flow_b"])
      ht = np.asarray(pixels.normalised_to_uint8(ht))
      psnrs[name].extend(pixels.psnr(p, t) for p, t in zip(ht, target))
  print(f"ht PSNR of {weights} on the held-out triplets of {root}, flow inputs:")
  for name, values in psnrs.items():
    print(f"  {np.mean(values):6.2f} dB  {name}")


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--data-dir", default="workdir/demo_data",
                      help="demo dataset root (generated if missing)")
  parser.add_argument("--weights", help="trained model folder (e.g. workdir/demo/model)")
  args = parser.parse_args()
  root = demo.ensure_demo_dataset(args.data_dir)
  if args.weights:
    flow_ablation(root, args.weights)
  else:
    reference_points(root)


if __name__ == "__main__":
  main()
