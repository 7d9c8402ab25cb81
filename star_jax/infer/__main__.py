"""``python -m star_jax.infer``: super-resolve a video or a folder of frames in space and/or
time with a STARnet model.

Examples::

  python -m star_jax.infer --weights STAR_4x.pth --input clip.mp4 --output clip_st.mp4
  python -m star_jax.infer --weights ckpt/ --input frames/ --output out/ --mode space
  python -m star_jax.infer --weights STAR-T_HR.pth --input clip.mp4 --output clip_4x_fps.mp4 \\
      --mode time --time-factor 4

A video output plays as the input did: upright, with the input's timestamps, duration and
audio (see ``--help``'s closing paragraph for what is kept and what is not).
"""

import argparse
import fractions
import pathlib
import sys
from typing import List, Optional

from star_jax.flow import BACKENDS
from star_jax.infer.dtype_option import add_dtype_argument
from star_jax.infer.engine import DEFAULT_TILE_OVERLAP
from star_jax.infer.errors import call_reporting_errors
from star_jax.infer.arg_types import non_negative_int, positive_int
from star_jax.infer.help_format import DefaultsHelpFormatter
from star_jax.infer.runner import InferenceOptions, run_inference
from star_jax.infer.schedule import DEFAULT_PREFETCH, MODES


def _fraction(text: str) -> fractions.Fraction:
  try:
    value = fractions.Fraction(text)
  except (ValueError, ZeroDivisionError) as error:
    raise argparse.ArgumentTypeError(f"not a frame rate: {text!r}") from error
  if value <= 0:
    raise argparse.ArgumentTypeError(f"frame rate must be positive, got {text}")
  return value


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="python -m star_jax.infer",
      description="Space-time video super-resolution with STARnet: 4x size and 2x (or 4x) "
                  "frame rate, size only, or frame rate only.",
      epilog="Kept from a video input: what the player shows (the display matrix's rotation "
             "or mirror is applied, the output is written upright with no rotation tag; the "
             "pixel aspect ratio), the timing (each frame keeps its timestamp, constant or "
             "variable rate, in-between frames lie exactly half-way (quarter-way for 4x), "
             "the clip's duration is kept in every mode: --mode time raises the frame rate, "
             "it does not slow the clip down), and the audio tracks (stream-copied, or "
             "re-encoded to AAC when the output container cannot hold them). Not kept: "
             "subtitles, data tracks, chapters, metadata tags, HDR/colour tags (frames are "
             "8-bit RGB, written as BT.601 limited range, tagged so except in .avi). "
             ".mkv stores times to "
             "the millisecond; .avi stores no frame durations (its last frame lasts one "
             "tick). A frame-folder output has no audio and no timestamps.",
      formatter_class=DefaultsHelpFormatter)
  parser.add_argument("--weights", required=True, type=pathlib.Path,
                      help="a star_jax checkpoint directory or a release .pth/.pth.gz file "
                           "(converted on the fly; any float dtype; {'params'|'params_ema'|"
                           "'state_dict'|'model': ...} wrappers unwrapped)")
  parser.add_argument("--input", required=True, type=pathlib.Path,
                      help="a video file (.mp4/.mov/.avi/.mkv, anything FFmpeg decodes) or a "
                           "folder of frames (png/jpg/bmp/tif/webp, natural sort order; 8/16-bit, "
                           "grey/RGB/palette, EXIF orientation applied, alpha dropped)")
  parser.add_argument("--output", required=True, type=pathlib.Path,
                      help="a video file (.mp4/.mov/.avi/.mkv) or a folder (created) for PNG "
                           "frames frame_000000.png, ...")
  parser.add_argument("--mode", choices=MODES, default="space-time",
                      help="space-time: scale x size and time-factor x frame rate (ht); "
                           "space: scale x size (h1/h2); time: time-factor x frame rate at "
                           "the input size (l, STAR-T-HR)")
  parser.add_argument("--time-factor", type=int, choices=(1, 2, 4), default=None,
                      help="frame-rate multiplier; 4 applies the half-way step recursively "
                           "(default: 2, or 1 for --mode space)")
  add_dtype_argument(parser)
  parser.add_argument("--tile-size", type=positive_int, default=None,
                      help="LR tile side in pixels (default: the largest that fits the memory "
                           "budget; no tiling if the frame fits)")
  parser.add_argument("--tile-overlap", type=int, default=DEFAULT_TILE_OVERLAP,
                      help="LR pixels shared by neighbouring tiles (blended)")
  parser.add_argument("--memory-budget-gb", type=float, default=None,
                      help="memory one forward may use per device (default: 60%% of the free "
                           "memory)")
  parser.add_argument("--batch-size", type=positive_int, default=None,
                      help="frame pairs (or tiles) per step over all devices (default: one "
                           "per local device)")
  parser.add_argument("--prefetch", type=non_negative_int, default=DEFAULT_PREFETCH,
                      help="chunks of --batch-size pairs decoded and given flows in a "
                           "background thread while the model runs (0: none)")
  parser.add_argument("--flow-backend", default="coarse2fine", choices=sorted(BACKENDS),
                      help="optical-flow backend (coarse2fine = the release's method)")
  parser.add_argument("--fps", type=_fraction, default=None,
                      help="frame rate of a frame-folder input (default 30); a video keeps "
                           "its own timestamps")
  parser.add_argument("--pix-fmt", default="yuv420p",
                      help="pixel format of a video output; yuv420p plays everywhere but "
                           "needs even sides, so an odd-sized output is padded by one "
                           "repeated row/column (a notice says so); yuv444p (libx264 only) "
                           "keeps the exact size and full colour, but browsers and phones "
                           "may not play it")
  parser.add_argument("--no-audio", action="store_true",
                      help="do not copy the input's audio tracks into the output video")
  parser.add_argument("--scale", type=int, default=None,
                      help="expected model scale; an error if the weights are for another")
  parser.add_argument("--overwrite", action="store_true",
                      help="replace an existing output (only once the new one is complete)")
  parser.add_argument("--no-progress", action="store_true", help="no progress bar")
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  options = InferenceOptions(
      weights=args.weights, input=args.input, output=args.output, mode=args.mode,
      time_factor=args.time_factor, dtype=args.dtype, tile_size=args.tile_size,
      tile_overlap=args.tile_overlap, memory_budget_gb=args.memory_budget_gb,
      batch_size=args.batch_size, prefetch=args.prefetch, flow_backend=args.flow_backend,
      fps=args.fps, scale=args.scale, overwrite=args.overwrite, progress=not args.no_progress,
      pix_fmt=args.pix_fmt, keep_audio=not args.no_audio)
  summary, code = call_reporting_errors(lambda: run_inference(options),
                                        f"inference failed on {args.input}",
                                        "; no output was written")
  if code is not None:
    return code
  print(f"wrote {args.output}: {summary.output_frames} frames {summary.output_width}x"
        f"{summary.output_height} at {float(summary.output_fps):.3f} fps from "
        f"{summary.input_frames} input frames in {summary.seconds:.1f} s "
        f"({summary.output_frames / max(summary.seconds, 1e-9):.2f} frames/s)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
