"""``python -m star_jax.evaluate``: PSNR / SSIM / IE of a STARnet model on a test set.

Example::

  python -m star_jax.evaluate --weights STAR-ST_4x.pth --dataset vimeo90k \\
      --data-dir vimeo_triplet --output-dir results/vimeo --tasks st,s
"""

import argparse
import pathlib
import sys
import tempfile
import time
from typing import List, Optional

from star_jax import cli
from star_jax.evaluate import report
from star_jax.evaluate.datasets import DATASETS, DISPLAY_NAMES, list_triplets
from star_jax.evaluate.evaluator import evaluate_triplets, parse_tasks, summarise
from star_jax.infer.engine import load_engine
from star_jax.infer.errors import UserInputError


def build_parser() -> argparse.ArgumentParser:
  parser = cli.new_parser(
      "python -m star_jax.evaluate",
      "Evaluate STARnet weights on Vimeo-90K, UCF101, Middlebury-other or the "
      "embedded demo set: ST-SR (ht), S-SR (h1/h2) and T-SR (l from HR inputs) "
      "PSNR, SSIM and interpolation error on 8-bit RGB whole frames.",
      epilog="Layouts: vimeo90k DIR/tri_testlist.txt + DIR/sequences/<clip>/im1..3.png; "
             "ucf101 DIR/<n>/frame_00.png, frame_01_gt.png, frame_02.png; middlebury "
             "DIR/other-data/<seq>/frame10.png, frame11.png + DIR/other-gt-interp/<seq>/"
             "frame10i11.png (or all three in DIR/<seq>/); demo: generated into DIR. Frames may "
             "be 8- or 16-bit, grey, RGB or palette (16-bit rounded to 8 bits, EXIF orientation "
             "applied, alpha dropped with a notice).")
  cli.add_weights_argument(parser)
  parser.add_argument("--dataset", required=True, choices=DATASETS)
  parser.add_argument("--data-dir", required=True, type=pathlib.Path,
                      help="root of the test set (for demo: where it is generated)")
  parser.add_argument("--output-dir", type=pathlib.Path, default=None,
                      help="where metrics.csv and summary.json go (default: beside the "
                           "weights: CKPT_DIR/evaluation/<dataset> for a checkpoint "
                           "directory, NAME.evaluation/<dataset> next to a NAME.pth file)")
  parser.add_argument("--tasks", default="st,s,t",
                      help="comma-separated: st (ht), s (h1/h2), t (l with HR inputs)")
  parser.add_argument("--save-frames", action="store_true",
                      help="also save every output frame under OUTPUT_DIR/frames/<task>/<sample>/")
  parser.add_argument("--limit", type=int, default=None, help="evaluate the first N samples")
  cli.add_scale_argument(parser)
  cli.add_dtype_argument(parser)
  cli.add_batch_size_argument(parser, "samples per step over all devices (default: one per "
                                      "device)")
  cli.add_tiling_arguments(parser)
  cli.add_flow_backend_argument(parser)
  cli.add_progress_argument(parser)
  cli.add_require_accelerator_argument(parser)
  return parser


def default_output_dir(weights: pathlib.Path, dataset: str) -> pathlib.Path:
  """Where results go without --output-dir: inside a checkpoint directory
  (``CKPT/evaluation/<dataset>``) or beside a weights file (``NAME.evaluation/<dataset>``
  for ``NAME.pth``/``NAME.pth.gz``), never the current folder."""
  if weights.is_dir():
    return weights / "evaluation" / dataset
  return weights.parent / f"{weights.name.split('.')[0]}.evaluation" / dataset


def writable_output_dir(args: argparse.Namespace) -> pathlib.Path:
  """``--output-dir`` or :func:`default_output_dir`, created, and checked writable before any
  work (results are written at the end).

  Raises:
    UserInputError: the folder cannot be created or written (a read-only folder of weights:
      the message names --output-dir, which writes elsewhere).
  """
  output_dir = args.output_dir or default_output_dir(args.weights, args.dataset)
  try:
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=output_dir):
      pass
  except OSError as error:
    reason = error.strerror or type(error).__name__
    if args.output_dir is not None:
      raise UserInputError(f"--output-dir {output_dir} cannot be written ({reason})") from error
    raise UserInputError(
        f"cannot write the results beside the weights, in {output_dir} ({reason}); pass "
        "--output-dir DIR to write them elsewhere") from error
  return output_dir


def run(args: argparse.Namespace) -> str:
  tasks = parse_tasks(args.tasks)
  triplets = list_triplets(args.dataset, args.data_dir, progress=not args.no_progress)
  if args.limit is not None:
    if args.limit < 1:
      raise UserInputError(f"--limit must be at least 1, got {args.limit}")
    triplets = triplets[:args.limit]
  output_dir = writable_output_dir(args)
  platform = cli.start_platform(args.require_accelerator)
  engine = load_engine(args.weights, scale=args.scale, dtype=args.dtype,
                       flow_backend=args.flow_backend, batch_size=args.batch_size,
                       tile_size=args.tile_size, tile_overlap=args.tile_overlap,
                       memory_budget_gb=args.memory_budget_gb)
  print(platform, file=sys.stderr)
  started = time.perf_counter()
  scores = list(evaluate_triplets(engine, triplets, tasks,
                                  output_dir / "frames" if args.save_frames else None,
                                  progress=not args.no_progress))
  summary = summarise(scores)
  report.write_csv(output_dir / "metrics.csv", scores)
  report.write_json(output_dir / "summary.json", {
      "dataset": args.dataset, "data_dir": str(args.data_dir), "weights": str(args.weights),
      "model": dict(engine.model_cfg), "samples": len(triplets), "tasks": summary,
      "dtype": args.dtype, "seconds": time.perf_counter() - started,
      "metric_definitions": {
          "psnr": "10 log10(255^2 / MSE), 8-bit RGB, whole frame",
          "ssim": "Wang et al. 2004: 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03, "
                  "L 255, valid positions, mean over positions and RGB channels",
          "ie": "mean absolute 8-bit RGB difference"}})
  method = f"{engine.model_cfg['variant']} x{engine.scale} ({args.weights.name})"
  return report.format_tables(summary, DISPLAY_NAMES[args.dataset], method) + (
      f"\n\nwrote {output_dir / 'metrics.csv'} and {output_dir / 'summary.json'}")


def main(argv: Optional[List[str]] = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  report, code = cli.call_reporting_errors(lambda: run(args), "evaluation failed",
                                           debug=args.debug, options=cli.option_names(parser))
  if code is not None:
    return code
  print(report)
  return 0


if __name__ == "__main__":
  sys.exit(main())
