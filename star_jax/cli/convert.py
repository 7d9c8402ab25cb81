"""``python -m star_jax.convert``: release .pth <-> star_jax checkpoints, and parity checks.

  to-flax   RELEASE.pth OUT_DIR      release weights -> orbax checkpoint dir + model_config.json
  to-torch  CKPT_DIR OUT.pth         star_jax checkpoint -> release-format .pth (module. keys);
                                     refuses a model the release cannot express
                                     (model.residual_bicubic)
  detect    RELEASE.pth              print the detected variant, scale and widths
  verify    WEIGHTS REFERENCE.npz    eval + training forwards vs the release's outputs; a
                                     reference of another scale or FR-ness is refused first

A missing file, weights that do not fit, or a refused conversion is one error: line and exit
status 2; verify exits 1 when an output exceeds --atol; --debug shows a traceback.
"""

import argparse
import pathlib
import sys

import numpy as np

from star_jax import weights
from star_jax.cli import common
from star_jax.convert import mapping, torch_io, verify
from star_jax.convert.detect import detect_model_config
from star_jax.errors import UserInputError
from star_jax.model import SCALES, VARIANTS


def _add_overrides(parser):
  group = parser.add_argument_group("override detection (the checkpoint must still match)")
  group.add_argument("--variant", choices=VARIANTS)
  group.add_argument("--scale", type=int, choices=SCALES)
  group.add_argument("--base-filter", type=int)
  group.add_argument("--feat", type=int)
  group.add_argument("--n-resblock", type=int)


def _overrides(args):
  return dict(variant=args.variant, scale=args.scale, base_filter=args.base_filter,
              feat=args.feat, n_resblock=args.n_resblock)


def _describe(cfg):
  return (f"{cfg.variant} x{cfg.scale} base_filter={cfg.base_filter} feat={cfg.feat} "
          f"n_resblock={cfg.n_resblock}")


def cmd_to_flax(args):
  cfg, variables = mapping.release_to_variables(
      torch_io.load_release_state_dict(args.checkpoint), _overrides(args))
  out = weights.save_checkpoint(args.out_dir, cfg, variables)
  print(f"{args.checkpoint}: {_describe(cfg)} -> {out}")
  return 0


def cmd_to_torch(args):
  cfg, variables = weights.load_checkpoint(args.checkpoint_dir)
  if cfg.residual_bicubic:
    raise UserInputError(f"{args.checkpoint_dir} has residual_bicubic=True (outputs over bicubic), "
                         "which the release cannot express; it is not converted")
  state_dict = mapping.variables_to_state_dict(variables)
  torch_io.save_release_state_dict(state_dict, args.out)
  print(f"{args.checkpoint_dir}: {_describe(cfg)} -> {args.out} ({len(state_dict)} keys)")
  return 0


def cmd_detect(args):
  print(_describe(detect_model_config(torch_io.load_release_state_dict(args.checkpoint))))
  return 0


def cmd_verify(args):
  cfg, variables = weights.load_weights(args.weights, _overrides(args))
  if not pathlib.Path(args.reference).is_file():
    raise UserInputError(f"reference {args.reference} does not exist")
  with np.load(args.reference) as f:
    reference = {k: f[k] for k in f.files}
  print(f"{args.weights}: {_describe(cfg)}")
  try:
    rows = verify.compare_to_reference(cfg, variables, reference)
  except ValueError as e:
    raise UserInputError(f"{args.reference} does not fit {args.weights}: {e}") from e
  print(verify.format_table(rows, args.atol))
  bad = [r.name for r in rows if not r.max_abs_error <= args.atol]
  if bad:
    print(f"FAILED: {len(bad)} of {len(rows)} outputs exceed atol {args.atol:g}: "
          f"{', '.join(bad[:8])}{' ...' if len(bad) > 8 else ''}", file=sys.stderr)
    if len(bad) == len(rows):
      print("every output differs: the reference was probably made by another model of the "
            "same sizes (another variant or other weights)", file=sys.stderr)
    return 1
  print(f"OK: all {len(rows)} outputs within atol {args.atol:g} "
        f"(worst {max(r.max_abs_error for r in rows):.3e})")
  return 0


def build_parser():
  raw = argparse.RawDescriptionHelpFormatter
  parser = common.new_parser("python -m star_jax.convert", __doc__, formatter_class=raw,
                             debug=False)
  sub = parser.add_subparsers(dest="command", required=True)
  p = common.add_subcommand(sub, "to-flax", "release .pth -> star_jax checkpoint directory")
  p.add_argument("checkpoint", help="release .pth or .pth.gz (with or without 'module.' keys)")
  p.add_argument("out_dir")
  _add_overrides(p)
  p.set_defaults(func=cmd_to_flax)
  p = common.add_subcommand(sub, "to-torch", "star_jax checkpoint directory -> release .pth")
  p.add_argument("checkpoint_dir")
  p.add_argument("out")
  p.set_defaults(func=cmd_to_torch)
  p = common.add_subcommand(sub, "detect", "print what a release .pth holds")
  p.add_argument("checkpoint")
  p.set_defaults(func=cmd_detect)
  p = common.add_subcommand(sub, "verify", "parity against an io.npz of release outputs")
  p.add_argument("weights", help="release .pth/.pth.gz or star_jax checkpoint directory")
  p.add_argument("reference", help="io.npz in the format of shared/parity/README.md")
  p.add_argument("--atol", type=float, default=1e-4)
  _add_overrides(p)
  p.set_defaults(func=cmd_verify)
  return parser


def main(argv=None) -> int:
  args = build_parser().parse_args(argv)
  status, code = common.call_reporting_errors(lambda: args.func(args), f"{args.command} failed",
                                              debug=args.debug, start_backend=True)
  return status if code is None else code

