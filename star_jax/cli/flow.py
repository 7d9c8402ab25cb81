"""``python -m star_jax.flow FRAME1 FRAME2``: optical flow between two image files.

Prints a one-line summary, and optionally saves the flow (``.npz`` with ``flow`` (H, W, 2) in
pixels, plus ``im2W`` for coarse2fine; or Middlebury ``.flo``) and a colour-wheel image.
A bad input (a missing or unreadable frame, frames of two sizes, frames too small for the
method, an --out that is neither .npz nor .flo) is one error: line, exit status 2.
"""

import argparse
import os
import pathlib
import time
from typing import List, Optional

import jax
import numpy as np
from PIL import Image

from star_jax.cli import common
from star_jax.data import frames
from star_jax.errors import UserInputError
from star_jax.flow import flo_io, visualize
from star_jax.flow.backends import compute_flow
from star_jax.flow.coarse2fine import SOLVERS, Coarse2FineParams, coarse2fine_flow
from star_jax.flow.features import RGB_LUMINANCE


def _read_frame(path: pathlib.Path, grey: bool) -> np.ndarray:
  """(H, W, 3) RGB, or (H, W, 1) luminance (ITU-R BT.601 weights) with ``grey``, float64 in
  [0, 1] at the file's own bit depth (``star_jax.data.frames.read_frame_float``); a
  ``FrameReadError`` names an unreadable file."""
  rgb = frames.read_frame_float(path)
  return rgb @ np.asarray(RGB_LUMINANCE)[:, None] if grey else rgb


def _default_compile_cache() -> pathlib.Path:
  base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
  return pathlib.Path(base) / "star_jax" / "jax_compilation_cache"


def build_parser() -> argparse.ArgumentParser:
  defaults = Coarse2FineParams()
  p = common.new_parser("python -m star_jax.flow", __doc__,
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  p.add_argument("frame1", type=pathlib.Path, help="first frame: any 8/16-bit image file (grey, RGB, palette; alpha dropped, EXIF orientation applied)")
  p.add_argument("frame2", type=pathlib.Path, help="second frame, same size")
  p.add_argument("--out", type=pathlib.Path, help="save the flow: .npz or .flo")
  p.add_argument("--visualize", type=pathlib.Path, help="save a colour-wheel image (.png)")
  common.add_flow_backend_argument(p, "--backend", "coarse2fine is the release's method; the "
                                               "OpenCV ones are faster")
  p.add_argument("--grey", action="store_true", help="use the frames' luminance (BT.601 weights) as one channel")
  p.add_argument("--compile-cache", type=pathlib.Path, default=_default_compile_cache(),
                 help="JAX persistent compilation cache: compiling coarse2fine for a new frame "
                 "size takes seconds, a cached program loads much faster")
  p.add_argument("--no-compile-cache", action="store_true",
                 help="do not read or write the compilation cache")
  c2f = p.add_argument_group("coarse2fine parameters (defaults are STARnet's)")
  c2f.add_argument("--mode", choices=sorted(SOLVERS), default=defaults.mode,
                   help="exact: pyflow's lexicographic SOR; fast: red-black SOR")
  c2f.add_argument("--alpha", type=float, default=defaults.alpha, help="smoothness weight")
  c2f.add_argument("--ratio", type=float, default=defaults.ratio,
                   help="pyramid downsampling ratio")
  c2f.add_argument("--min-width", type=int, default=defaults.min_width,
                   help="width of the coarsest pyramid level (minWidth)")
  c2f.add_argument("--outer", type=int, default=defaults.n_outer_fp_iterations,
                   help="outer fixed-point iterations (nOuterFPIterations)")
  c2f.add_argument("--inner", type=int, default=defaults.n_inner_fp_iterations,
                   help="inner fixed-point iterations (nInnerFPIterations)")
  c2f.add_argument("--sor", type=int, default=defaults.n_sor_iterations,
                   help="SOR sweeps (nSORIterations)")
  c2f.add_argument("--dis-preset", default="medium", help="opencv_dis preset")
  return p


def _run(args: argparse.Namespace) -> None:
  """Computes, prints and saves the flow of ``args``; UserInputError, FrameReadError or
  ValueError (frames too small for the method) for bad input."""
  if args.out is not None and args.out.suffix not in (".npz", ".flo"):
    raise UserInputError(f"out {args.out} must end in .npz or .flo", ("out",))
  if not args.no_compile_cache:
    jax.config.update("jax_compilation_cache_dir", str(args.compile_cache))
  im1 = _read_frame(args.frame1, args.grey)
  im2 = _read_frame(args.frame2, args.grey)
  if im1.shape != im2.shape:
    raise UserInputError(f"{args.frame1} is {im1.shape[1]}x{im1.shape[0]} but {args.frame2} "
                         f"is {im2.shape[1]}x{im2.shape[0]}")
  start = time.perf_counter()
  extra = {}
  if args.backend == "coarse2fine":
    result = coarse2fine_flow(
        im1, im2, mode=args.mode, alpha=args.alpha, ratio=args.ratio,
        min_width=args.min_width, n_outer_fp_iterations=args.outer,
        n_inner_fp_iterations=args.inner, n_sor_iterations=args.sor)
    flow = np.asarray(result.flow, np.float32)
    extra["im2W"] = np.asarray(result.im2w, np.float32)
  elif args.backend == "opencv_dis":
    flow = compute_flow(im1, im2, backend=args.backend, preset=args.dis_preset)
  else:
    flow = compute_flow(im1, im2, backend=args.backend)
  seconds = time.perf_counter() - start
  magnitude = np.hypot(flow[..., 0], flow[..., 1])
  print(f"{args.backend}: {flow.shape[1]}x{flow.shape[0]} flow in {seconds:.2f} s (including "
        f"compilation), mean |flow| {magnitude.mean():.3f} px, max {magnitude.max():.3f} px")
  if args.out is not None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".flo":
      flo_io.write_flo(args.out, flow)
    else:
      np.savez(args.out, flow=flow, **extra)
    print(f"wrote {args.out}")
  if args.visualize is not None:
    args.visualize.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(visualize.flow_to_colour(flow)).save(args.visualize)
    print(f"wrote {args.visualize}")


def main(argv: Optional[List[str]] = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  _, code = common.call_reporting_errors(lambda: _run(args), "flow failed", debug=args.debug,
                                         options=common.option_names(parser),
                                         start_backend=True)
  return 0 if code is None else code

