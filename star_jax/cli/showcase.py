"""``python -m star_jax.showcase``: the demo's input clip, space-time output and comparison
strip (``star_jax.showcase``), with the PSNR of each output and its baseline::

  python -m star_jax.showcase --weights workdir/demo/model \\
      --data-dir workdir/demo_data --output workdir/showcase
"""

import argparse
import pathlib
from typing import List, Optional

import numpy as np

from star_jax.cli import common
from star_jax.showcase import (INPUT_VIDEO, OUTPUT_VIDEO, STRIP_IMAGE, ShowcaseOptions,
                               run_showcase)


def build_parser() -> argparse.ArgumentParser:
  parser = common.new_parser(
      "python -m star_jax.showcase",
      "Enhance a short clip of the embedded demo dataset with a checkpoint and "
      f"write {INPUT_VIDEO} (the LR input), {OUTPUT_VIDEO} (space-time output) "
      f"and {STRIP_IMAGE} (input | bicubic | ours | ground truth at the "
      "in-between times), printing the PSNR of bicubic and ours.")
  common.add_weights_argument(parser)
  parser.add_argument("--data-dir", required=True, type=pathlib.Path,
                      help="a Vimeo-layout root with sep_testlist.txt (used as is); if it has "
                           "none, the demo dataset is generated there with its defaults")
  parser.add_argument("--output", required=True, type=pathlib.Path,
                      help="folder (created) for the three files")
  parser.add_argument("--clip", type=int, default=0,
                      help="which test septuplet (index into sep_testlist.txt)")
  common.add_flow_backend_argument(parser)
  common.add_overwrite_argument(parser, "replace existing files in --output (each only once the "
                                     "new one is complete)")
  common.add_progress_argument(parser)
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  options = ShowcaseOptions(weights=args.weights, data_dir=args.data_dir, output=args.output,
                            clip=args.clip, flow=common.flow_settings(args),
                            overwrite=args.overwrite, progress=not args.no_progress)
  result, code = common.call_reporting_errors(lambda: run_showcase(options), "showcase failed",
                                              debug=args.debug, options=common.option_names(parser),
                                              start_backend=True)
  if code is not None:
    return code
  rows = result.rows
  print("PSNR against the ground truth (dB), each output next to its baseline:")
  for row in rows:
    print(f"  time {row.time}: {row.baseline:>17} {row.psnr_bicubic:6.2f}  ours "
          f"{row.psnr_ours:6.2f}  ({row.psnr_ours - row.psnr_bicubic:+.2f})")
  for label, group in (("input times", [r for r in rows if not r.in_between]),
                       ("in-between times", [r for r in rows if r.in_between])):
    base = float(np.mean([row.psnr_bicubic for row in group]))
    ours = float(np.mean([row.psnr_ours for row in group]))
    print(f"  mean over the {label}: {group[0].baseline} {base:6.2f}  ours {ours:6.2f}  "
          f"({ours - base:+.2f})")
  print(f"  checkerboard measure (grid_energy_ratio, period {result.scale}, all 7 times; "
        f"~1 = as bicubic): baseline {result.grid_bicubic:.2f}  ours {result.grid_ours:.2f}")
  for name in (INPUT_VIDEO, OUTPUT_VIDEO, STRIP_IMAGE):
    print(f"wrote {args.output / name}")
  return 0

