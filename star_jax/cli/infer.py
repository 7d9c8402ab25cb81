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
import sys
from typing import List, Optional

from star_jax.cli import common
from star_jax.infer.network import JaxNetwork
from star_jax.infer.runner import InferenceOptions, run_inference
from star_jax.infer.frame_schedule import DEFAULT_PREFETCH


def _fraction(text: str) -> fractions.Fraction:
  try:
    value = fractions.Fraction(text)
  except (ValueError, ZeroDivisionError) as error:
    raise argparse.ArgumentTypeError(f"not a frame rate: {text!r}") from error
  if value <= 0:
    raise argparse.ArgumentTypeError(f"frame rate must be positive, got {text}")
  return value


def build_parser() -> argparse.ArgumentParser:
  parser = common.new_parser(
      "python -m star_jax.infer",
      "Space-time video super-resolution with STARnet: 4x size and 2x (or 4x) "
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
             "tick). A frame-folder output has no audio and no timestamps. Errors are one "
             "error: line, exit status 2 for bad input, 1 otherwise.")
  common.add_weights_argument(parser)
  common.add_video_io_arguments(parser)
  common.add_mode_arguments(parser)
  common.add_dtype_argument(parser)
  common.add_tiling_arguments(parser)
  common.add_batch_size_argument(parser)
  parser.add_argument("--prefetch", type=common.non_negative_int, default=DEFAULT_PREFETCH,
                      help="chunks of --batch-size pairs decoded and given flows in a "
                           "background thread while the model runs (0: none)")
  common.add_flow_backend_argument(parser)
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
  common.add_scale_argument(parser)
  common.add_overwrite_argument(parser)
  common.add_progress_argument(parser)
  common.add_require_accelerator_argument(parser)
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)

  def load_network():  # once the input and output are checked
    platform = common.start_platform(args.require_accelerator)
    network = JaxNetwork.from_weights(args.weights, scale=args.scale, dtype=args.dtype)
    print(platform, file=sys.stderr)
    return network

  def run():
    options = InferenceOptions(
        input=args.input, output=args.output, mode=args.mode, time_factor=args.time_factor,
        flow=common.flow_settings(args), engine=common.engine_options(args),
        prefetch=args.prefetch, fps=args.fps, overwrite=args.overwrite,
        progress=not args.no_progress, pix_fmt=args.pix_fmt, keep_audio=not args.no_audio)
    return run_inference(options, load_network)

  summary, code = common.call_reporting_errors(
      run, f"inference failed on {args.input}", "; no output was written", debug=args.debug,
      options=common.option_names(parser))
  if code is not None:
    return code
  print(f"wrote {args.output}: {summary.output_frames} frames {summary.output_width}x"
        f"{summary.output_height} at {float(summary.output_fps):.3f} fps from "
        f"{summary.input_frames} input frames in {summary.seconds:.1f} s "
        f"({summary.output_frames / max(summary.seconds, 1e-9):.2f} frames/s)")
  return 0
