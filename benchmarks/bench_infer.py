"""Inference throughput: output frames/s of space-time mode (e.g. 360p -> 1440p at 2x frame
rate) for a given model, measured per tile and extrapolated when a whole frame is too slow
to run here.

Per input pair, space-time mode costs two flows (both directions) on the LR frames plus one
forward per tile of the tile plan (the plan PairEngine picks from the memory budget, or
--tile-size) and yields two output frames (h1 and ht). This script times the flow of one
full-size pair and the forward of one tile batch (each after a warm-up call that compiles),
and reports

    seconds per pair = flow + tiles x forward per tile,   output frames/s = 2 / that.

With --full it also runs the real PairEngine on one full-size pair to check the estimate.
Random weights (the time does not depend on their values) unless --weights is given.

  python -m benchmarks infer --lr-size 640x360 --tile-size 96
"""

import argparse

import jax
import numpy as np

from star_jax import flow as flow_lib
from star_jax.model import COMPUTE_DTYPES, abstract_variables
from star_jax.weights import load_weights
from star_jax.infer import EngineOptions, JaxNetwork, PairEngine
from star_jax.infer.network import ALL_OUTPUT_NAMES
from star_jax.model import ModelConfig

from . import harness


def random_variables(model_cfg, seed=0):
  """Variables of the right shapes with small random values (BatchNorm variances 1)."""
  rng = np.random.default_rng(seed)
  abstract = abstract_variables(model_cfg)

  def fill(path, leaf):
    name = jax.tree_util.keystr(path)
    if "var" in name.split("/")[-1] or name.endswith("['var']"):
      return np.ones(leaf.shape, leaf.dtype)
    return (0.02 * rng.standard_normal(leaf.shape)).astype(leaf.dtype)

  return jax.tree_util.tree_map_with_path(fill, abstract)


def timed(function) -> float:
  """Wall seconds of one call of ``function``, its result waited for."""
  return harness.timed(lambda: jax.block_until_ready(function()))[1]


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--weights", default=None, help="checkpoint or .pth (default: random)")
  parser.add_argument("--variant", default="V4_REF")
  parser.add_argument("--lr-size", default="640x360", help="WxH of the input frames")
  parser.add_argument("--tile-size", type=int, default=None,
                      help="LR tile side (default: PairEngine's choice from memory)")
  parser.add_argument("--tile-overlap", type=int, default=16)
  parser.add_argument("--dtype", default="float32", choices=COMPUTE_DTYPES)
  parser.add_argument("--flow-backend", default="coarse2fine")
  parser.add_argument("--full", action="store_true", help="also run one full pair")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  width, height = (int(v) for v in args.lr_size.split("x"))

  if args.weights:
    model_cfg, variables = load_weights(args.weights)
  else:
    model_cfg = ModelConfig(variant=args.variant)
    variables = random_variables(model_cfg)
  network = JaxNetwork(model_cfg, variables, dtype=args.dtype)
  engine = PairEngine(network, flow_lib.FlowSettings(args.flow_backend),
                      EngineOptions(tile_size=args.tile_size, tile_overlap=args.tile_overlap))
  tiles = engine.planner.tile_plan(*engine.planner.padded_frame_size(height, width))
  tile_h, tile_w = tiles[0].height, tiles[0].width
  rng = np.random.default_rng(0)
  frames = rng.random((2, height, width, 3)).astype(np.float32)

  flow_call = lambda: flow_lib.compute_flow(frames[[0, 1]], frames[[1, 0]],
                                            backend=args.flow_backend)
  flow_compile_s = timed(flow_call)
  flow_s = timed(flow_call)

  batch = engine.batch_size
  image, flow = network.place([
      rng.standard_normal((batch, tile_h, tile_w, 3)).astype(np.float32),
      (0.01 * rng.standard_normal((batch, tile_h, tile_w, 2))).astype(np.float32)])
  forward = lambda: network.forward([image, image, flow, flow], ALL_OUTPUT_NAMES)
  forward_compile_s = timed(forward)
  forward_s = timed(forward)
  per_tile_s = forward_s / batch
  per_pair_s = flow_s + len(tiles) * per_tile_s
  report = {
      "device": str(jax.devices()[0]), "devices": len(network.devices),
      "variant": model_cfg.variant, "scale": model_cfg.scale,
      "base_filter": model_cfg.base_filter, "feat": model_cfg.feat, "dtype": args.dtype,
      "input": f"{width}x{height}",
      "output": f"{width * model_cfg.scale}x{height * model_cfg.scale}",
      "tiles": len(tiles), "tile": f"{tile_w}x{tile_h}", "tile_overlap": args.tile_overlap,
      "est_bytes_per_lr_pixel": network.bytes_per_lr_pixel(),
      "flow_pair_s": round(flow_s, 3), "flow_compile_s": round(flow_compile_s, 3),
      "forward_per_tile_s": round(per_tile_s, 3),
      "forward_compile_s": round(forward_compile_s, 3),
      "estimated_s_per_input_pair": round(per_pair_s, 2),
      "estimated_output_frames_per_s": round(2.0 / per_pair_s, 5),
  }
  if args.full:
    pair = (frames[0], frames[1])
    full_s = timed(lambda: engine.run([pair], ("h1", "ht")))
    report["measured_s_per_input_pair"] = round(full_s, 2)
    report["measured_output_frames_per_s"] = round(2.0 / full_s, 5)
  harness.print_json(report, indent=2)
