"""``python -m star_jax.evaluate``: PSNR / SSIM / IE of a STARnet model on a test set.

Two protocols:

* ``--protocol paper`` (default): the STARnet paper's tables, triplets, 8-bit RGB over whole
  frames (``star_jax.evaluate.evaluator``)::

    python -m star_jax.evaluate --weights STAR-ST_4x.pth --dataset vimeo90k \\
        --data-dir vimeo_triplet --output-dir results/vimeo --tasks st,s

* ``--protocol stvsr``: the field's space-time SR protocol (Zooming Slow-Mo, TMNet, RSTT):
  Vimeo-90K septuplet Fast / Medium / Slow and Vid4, MATLAB-bicubic LR, odd frames in, all
  frames scored on Y (``star_jax.evaluate.stvsr``)::

    python -m star_jax.evaluate --protocol stvsr --weights STAR_4x.pth \\
        --vimeo-dir vimeo_septuplet --vid4-dir Vid4 --output-dir results/stvsr
"""

import argparse
import pathlib
import sys
import tempfile
import time
from typing import List, Optional

from star_jax.cli import common
from star_jax.errors import UserInputError
from star_jax.evaluate import report, stvsr
from star_jax.evaluate.datasets import DATASETS, DISPLAY_NAMES, list_triplets
from star_jax.evaluate.evaluator import evaluate_triplets, parse_tasks, summarise
from star_jax.infer.engine import PairEngine
from star_jax.infer.network import JaxNetwork


def build_parser() -> argparse.ArgumentParser:
  parser = common.new_parser(
      "python -m star_jax.evaluate",
      "Evaluate STARnet weights. --protocol paper (default): Vimeo-90K triplets, UCF101, "
      "Middlebury-other or the embedded demo set: ST-SR (ht), S-SR (h1/h2) and T-SR (l from "
      "HR inputs) PSNR, SSIM and interpolation error on 8-bit RGB whole frames, as the "
      "STARnet paper. --protocol stvsr: the field's space-time SR table (Zooming Slow-Mo, "
      "TMNet, RSTT): Vimeo-90K septuplet Fast/Medium/Slow and Vid4, PSNR/SSIM on Y, "
      "parameters and output frames/s.",
      epilog="Layouts: vimeo90k DIR/tri_testlist.txt + DIR/sequences/<clip>/im1..3.png; "
             "ucf101 DIR/<n>/frame_00.png, frame_01_gt.png, frame_02.png; middlebury "
             "DIR/other-data/<seq>/frame10.png, frame11.png + DIR/other-gt-interp/<seq>/"
             "frame10i11.png (or all three in DIR/<seq>/); demo: generated into DIR; stvsr "
             "--vimeo-dir DIR/{fast,medium,slow}_testset.txt + DIR/sequences/<clip>/im1..7.png, "
             "--vid4-dir DIR/<clip>/*.png (or DIR/GT/<clip>/). Frames may "
             "be 8- or 16-bit, grey, RGB or palette (16-bit rounded to 8 bits, EXIF orientation "
             "applied, alpha dropped with a notice).")
  common.add_weights_argument(parser)
  parser.add_argument("--protocol", choices=("paper", "stvsr"), default="paper",
                      help="paper: the STARnet paper's triplet tables (8-bit RGB, whole "
                           "frames; --dataset, --data-dir, --tasks); stvsr: the field's "
                           "space-time SR protocol (Vimeo-90K septuplet Fast/Medium/Slow and "
                           "Vid4, MATLAB-bicubic LR, odd frames in, all frames scored, PSNR/SSIM "
                           "on Y averaged per clip then over clips; --vimeo-dir, --vid4-dir, "
                           "--subsets)")
  parser.add_argument("--dataset", choices=DATASETS, help="paper protocol: the test set")
  parser.add_argument("--data-dir", type=pathlib.Path,
                      help="paper protocol: root of the test set (for demo: where it is "
                           "generated)")
  parser.add_argument("--vimeo-dir", type=pathlib.Path,
                      help="stvsr protocol: Vimeo-90K septuplet root (sequences/ and the "
                           "lists fast_testset.txt, medium_testset.txt, slow_testset.txt)")
  parser.add_argument("--vid4-dir", type=pathlib.Path,
                      help="stvsr protocol: Vid4 root, one folder of HR frames per clip "
                           "(or under GT/)")
  parser.add_argument("--subsets", default="fast,medium,slow",
                      help="stvsr protocol: Vimeo lists to score, comma-separated among "
                           "fast, medium, slow, all (sep_testlist.txt)")
  parser.add_argument("--output-dir", type=pathlib.Path, default=None,
                      help="where the results go (default: beside the weights: "
                           "CKPT_DIR/evaluation/<dataset or stvsr> for a checkpoint "
                           "directory, NAME.evaluation/<dataset or stvsr> next to a NAME.pth "
                           "file); paper: metrics.csv, summary.json; stvsr: clips.csv, "
                           "summary.json, table.txt")
  parser.add_argument("--tasks", default="st,s,t",
                      help="paper protocol, comma-separated: st (ht), s (h1/h2), t (l with HR "
                           "inputs)")
  parser.add_argument("--save-frames", action="store_true",
                      help="also save every output frame under OUTPUT_DIR/frames/<task>/<sample>/")
  parser.add_argument("--limit", type=int, default=None,
                      help="evaluate the first N samples (stvsr: the first N clips of each set)")
  common.add_scale_argument(parser)
  common.add_dtype_argument(parser)
  common.add_batch_size_argument(parser, "samples per step over all devices (default: one per "
                                      "device)")
  common.add_tiling_arguments(parser)
  common.add_flow_backend_argument(parser)
  common.add_progress_argument(parser)
  common.add_require_accelerator_argument(parser)
  return parser


def default_output_dir(weights: pathlib.Path, dataset: str) -> pathlib.Path:
  """Where results go without --output-dir: inside a checkpoint directory
  (``CKPT/evaluation/<dataset>``) or beside a weights file (``NAME.evaluation/<dataset>``
  for ``NAME.pth``/``NAME.pth.gz``), never the current folder."""
  if weights.is_dir():
    return weights / "evaluation" / dataset
  return weights.parent / f"{weights.name.split('.')[0]}.evaluation" / dataset


def writable_output_dir(args: argparse.Namespace, dataset: str) -> pathlib.Path:
  """``--output-dir`` or :func:`default_output_dir`, created, and checked writable before any
  work (results are written at the end).

  Raises:
    UserInputError: the folder cannot be created or written (a read-only folder of weights:
      the message names --output-dir, which writes elsewhere).
  """
  output_dir = args.output_dir or default_output_dir(args.weights, dataset)
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


def _engine(args: argparse.Namespace) -> PairEngine:
  options = common.engine_options(args)  # checked before the weights load
  network = JaxNetwork.from_weights(args.weights, scale=args.scale, dtype=args.dtype)
  return PairEngine(network, common.flow_settings(args), options)


def _check_limit(args: argparse.Namespace) -> None:
  if args.limit is not None and args.limit < 1:
    raise UserInputError(f"--limit must be at least 1, got {args.limit}")


def run_stvsr(args: argparse.Namespace) -> str:
  """The field's protocol (``star_jax.evaluate.stvsr``): every set asked for, one table."""
  if args.dataset is not None or args.data_dir is not None:
    raise UserInputError("--dataset and --data-dir belong to --protocol paper; "
                         "--protocol stvsr reads --vimeo-dir and --vid4-dir")
  if args.vimeo_dir is None and args.vid4_dir is None:
    raise UserInputError("--protocol stvsr needs --vimeo-dir, --vid4-dir or both")
  _check_limit(args)
  sets = []
  if args.vimeo_dir is not None:
    subsets = [name.strip() for name in args.subsets.split(",") if name.strip()]
    if not subsets:
      raise UserInputError(f"--subsets names no list: {args.subsets!r}")
    sets += [stvsr.vimeo_clips(args.vimeo_dir, subset) for subset in subsets]
  if args.vid4_dir is not None:
    sets.append(stvsr.vid4_clips(args.vid4_dir))
  clips = [clip for test_set in sets for clip in test_set[:args.limit]]
  output_dir = writable_output_dir(args, "stvsr")
  platform = common.start_platform(args.require_accelerator)
  engine = _engine(args)
  print(platform, file=sys.stderr)
  timer = stvsr.Timer()
  started = time.perf_counter()
  scores = list(stvsr.evaluate_clips(engine, clips, timer,
                                     output_dir / "frames" if args.save_frames else None,
                                     progress=not args.no_progress))
  summary = stvsr.summarise(scores)
  params = stvsr.parameter_count(engine)
  method = f"{engine.network.model_cfg.variant} x{engine.scale} ({args.weights.name})"
  table = stvsr.format_table(summary, method, engine.scale, params, timer.frames_per_second)
  report.write_rows(output_dir / "clips.csv", scores, stvsr.ClipScore)
  report.write_text(output_dir / "table.txt", table + "\n")
  report.write_json(output_dir / "summary.json", {
      "protocol": "stvsr", "weights": str(args.weights), "model": dict(engine.network.model_cfg),
      "vimeo_dir": str(args.vimeo_dir) if args.vimeo_dir else None,
      "vid4_dir": str(args.vid4_dir) if args.vid4_dir else None,
      "sets": summary, "params": params, "output_frames": timer.frames,
      "engine_seconds": timer.seconds, "output_frames_per_second": timer.frames_per_second,
      "devices": [str(device) for device in engine.network.devices], "dtype": args.dtype,
      "flow": engine.flow.record, "seconds": time.perf_counter() - started,
      "definitions": {
          "lr": "MATLAB imresize(hr, 1/scale, 'bicubic'), antialiased, of the mod-cropped HR",
          "frames": "odd frames 1, 3, 5, ... in; every frame scored; a frame shared by two "
                    "pairs is h1 of the pair where it comes first",
          "psnr_y": "10 log10(255^2 / MSE) of MATLAB rgb2ycbcr Y (not rounded), whole frame",
          "ssim_y": "Wang et al. 2004 on Y: 11x11 Gaussian sigma 1.5, K1 0.01, K2 0.03, L 255, "
                    "valid positions",
          "average": "mean over the frames of a clip, then over the clips of a set",
          "output_frames_per_second": "scored frames / seconds in flows + network "
                                      "(one warm-up pair per frame size untimed)"}})
  return table + f"\n\nwrote {output_dir / 'table.txt'}, {output_dir / 'clips.csv'} and " \
      f"{output_dir / 'summary.json'}"


def run(args: argparse.Namespace) -> str:
  if args.protocol == "stvsr":
    return run_stvsr(args)
  if args.vimeo_dir is not None or args.vid4_dir is not None:
    raise UserInputError("--vimeo-dir and --vid4-dir belong to --protocol stvsr")
  if args.dataset is None or args.data_dir is None:
    raise UserInputError("--protocol paper needs --dataset and --data-dir")
  tasks = parse_tasks(args.tasks)
  triplets = list_triplets(args.dataset, args.data_dir, progress=not args.no_progress)
  _check_limit(args)
  triplets = triplets[:args.limit]
  output_dir = writable_output_dir(args, args.dataset)
  platform = common.start_platform(args.require_accelerator)
  engine = _engine(args)
  print(platform, file=sys.stderr)
  started = time.perf_counter()
  scores = list(evaluate_triplets(engine, triplets, tasks,
                                  output_dir / "frames" if args.save_frames else None,
                                  progress=not args.no_progress))
  summary = summarise(scores)
  report.write_csv(output_dir / "metrics.csv", scores)
  report.write_json(output_dir / "summary.json", {
      "dataset": args.dataset, "data_dir": str(args.data_dir), "weights": str(args.weights),
      "model": dict(engine.network.model_cfg), "samples": len(triplets), "tasks": summary,
      "dtype": args.dtype, "seconds": time.perf_counter() - started,
      "metric_definitions": {
          "psnr": "10 log10(255^2 / MSE), 8-bit RGB, whole frame",
          "ssim": "Wang et al. 2004: 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03, "
                  "L 255, valid positions, mean over positions and RGB channels",
          "ie": "mean absolute 8-bit RGB difference"}})
  method = f"{engine.network.model_cfg.variant} x{engine.scale} ({args.weights.name})"
  return report.format_tables(summary, DISPLAY_NAMES[args.dataset], method) + (
      f"\n\nwrote {output_dir / 'metrics.csv'} and {output_dir / 'summary.json'}")


def main(argv: Optional[List[str]] = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  report, code = common.call_reporting_errors(lambda: run(args), "evaluation failed",
                                              debug=args.debug, options=common.option_names(parser))
  if code is not None:
    return code
  print(report)
  return 0

