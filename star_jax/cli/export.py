"""``python -m star_jax.export``: export STARnet for deployment, and run an ONNX export.

Examples::

  python -m star_jax.export stablehlo --weights STAR_4x.pth --lr-size 64x112 --batch dynamic \\
      --output export/star_hlo
  python -m star_jax.export onnx --weights ckpt/star --lr-size 64x112 --output export/star_onnx
  python -m star_jax.export run export/star_onnx --input clip.mp4 --output out.mp4

``stablehlo`` writes model.stablehlo + weights.npz + model.json (load with
``star_jax.export.loader.load_stablehlo``: jax only); ``onnx`` writes model.onnx + model.json
(needs the ``[export]`` extra). ``run`` enhances a video or frame folder with an ONNX export
in onnxruntime, through the same flow, padding, tiling and video writing as
``python -m star_jax.infer``.
"""

import argparse
import pathlib
from typing import List, Optional

from star_jax.cli import common
from star_jax.errors import UserInputError


def build_parser() -> argparse.ArgumentParser:
  parser = common.new_parser(
      "python -m star_jax.export",
      "Export STARnet's eval forward (two ImageNet-normalised LR frames and two "
      "network-convention flows -> ht, h1, h2, l) as StableHLO or ONNX with a "
      "JSON sidecar, or run an ONNX export on a video.", debug=False)
  commands = parser.add_subparsers(dest="command", required=True)
  for fmt in ("stablehlo", "onnx"):
    sub = common.add_subcommand(commands, fmt, f"export as {fmt}")
    common.add_weights_argument(sub)
    sub.add_argument("--lr-size", required=True,
                     help="LR frame size HEIGHTxWIDTH the export takes (fixed: the "
                          "align-corners upsampling is built for one size)")
    sub.add_argument("--batch", default="1",
                     help="batch size, or 'dynamic' for any batch (symbolic dimension b)")
    if fmt == "stablehlo":
      common.add_dtype_argument(sub)
      sub.add_argument("--platforms", default="cpu",
                       help="comma-separated platforms to lower for (cpu, cuda, rocm, tpu)")
    sub.add_argument("--output", required=True, type=pathlib.Path,
                     help="directory to write (created; must not hold an export)")
  run = common.add_subcommand(commands, "run", "enhance a video with an ONNX export in onnxruntime")
  run.add_argument("model", type=pathlib.Path,
                   help="an ONNX export directory (or its model.onnx)")
  common.add_video_io_arguments(run)
  common.add_mode_arguments(run)
  common.add_batch_size_argument(
      run, "pairs (or tiles) per call: a fixed-batch export's own batch, any for a dynamic "
           "one (default: the export's batch, or 1)")
  common.add_tiling_arguments(run, sized=False,
                              overlap_help="LR pixels shared by neighbouring tiles when a frame "
                                        "is larger than the exported LR size")
  common.add_flow_backend_argument(run)
  common.add_overwrite_argument(run)
  common.add_progress_argument(run)
  return parser


def _export(args) -> pathlib.Path:
  from star_jax.export import forward  # pylint: disable=g-import-not-at-top (loads jax/flax)
  try:
    lr_size, batch = forward.parse_lr_size(args.lr_size), forward.parse_batch(args.batch)
    source = forward.load_export_source(args.weights, lr_size, batch,
                                        getattr(args, "dtype", "float32"))
    if args.command == "stablehlo":
      from star_jax.export.stablehlo import export_stablehlo  # pylint: disable=g-import-not-at-top
      platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
      return export_stablehlo(source, args.output, platforms)
    from star_jax.export.onnx_export import export_onnx  # pylint: disable=g-import-not-at-top
    return export_onnx(source, args.output)
  except (ValueError, FileExistsError) as error:
    raise UserInputError(str(error), ("lr_size", "batch", "dtype", "output")) from error
  except ImportError as error:
    raise UserInputError(f"{error}; install the export extra: pip install -e '.[export]'"
                         ) from error


def _run(args):
  from star_jax.export.onnx_network import OnnxNetwork  # pylint: disable=g-import-not-at-top
  from star_jax.infer.runner import InferenceOptions, run_inference  # pylint: disable=g-import-not-at-top
  options = InferenceOptions(input=args.input, output=args.output, mode=args.mode,
                             time_factor=args.time_factor, flow=common.flow_settings(args),
                             engine=common.engine_options(args), overwrite=args.overwrite,
                             progress=not args.no_progress)
  return run_inference(options, lambda: OnnxNetwork(args.model))


def main(argv: Optional[List[str]] = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  options = common.option_names(parser)
  if args.command == "run":
    summary, code = common.call_reporting_errors(
        lambda: _run(args), f"run failed on {args.input}", "; no output was written",
        debug=args.debug, options=options, start_backend=True)
    if code is not None:
      return code
    print(f"wrote {args.output}: {summary.output_frames} frames {summary.output_width}x"
          f"{summary.output_height} at {float(summary.output_fps):.3f} fps from "
          f"{summary.input_frames} input frames in {summary.seconds:.1f} s")
    return 0
  path, code = common.call_reporting_errors(lambda: _export(args), f"{args.command} export failed",
                                            debug=args.debug, options=options,
                                            start_backend=True)
  if code is not None:
    return code
  print(f"wrote {args.command} export {args.output} (sidecar {path})")
  return 0

