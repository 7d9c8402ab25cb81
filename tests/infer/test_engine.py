"""PairEngine over a JaxNetwork: exact padding/cropping, tiles (batched) against untiled,
memory-chosen tiles, bfloat16, several devices, outputs in [0, 1] or uint8; EngineOptions'
checks.

The engine returns RGB clamped to [0, 1]; the comparisons below are made after
``pixels.normalize`` (in the network's normalised units, as the tolerances were chosen),
with the model applied by hand clamped the same way."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from star_jax import flow as flow_lib
from star_jax.weights import load_weights
from star_jax import pixels
from star_jax.pixels import normalize, to_float
from star_jax.infer import padding
from star_jax.infer.engine import PairEngine
from star_jax.infer.network import JaxNetwork, engine_forward
from star_jax.infer.planner import EngineOptions
from star_jax.errors import UserInputError
from star_jax.model import ModelConfig, build_model
from tests.conftest import fake_device_flags

ALL_OUTPUTS = ("ht", "h1", "h2", "l")


def _engine(model, dtype="float32", **options):
  """A PairEngine of the (model config, variables) ``model`` at ``dtype`` with
  ``EngineOptions(**options)``, the release's flow."""
  return PairEngine(JaxNetwork(*model, dtype=dtype), options=EngineOptions(**options))


def _normalised(results):
  """Engine outputs ([0, 1]) back in the network's normalised units."""
  return [{name: normalize(value) for name, value in result.items()} for result in results]


def _direct(model_cfg, variables, first, second, pad_to):
  """The model applied by hand: flows on the given frames, everything edge-padded to
  ``pad_to``, eval forward, outputs cropped (the contract the engine must meet)."""
  height, width = first.shape[:2]
  flows = flow_lib.compute_flow(np.stack([first, second]), np.stack([second, first]))
  flows = np.asarray(flow_lib.to_network_input(np.asarray(flows)), np.float32)
  pad = lambda a: padding.pad_bottom_right(a[None], *pad_to)
  outputs = build_model(model_cfg).apply(
      variables, pad(normalize(first)), pad(normalize(second)), pad(flows[0]), pad(flows[1]),
      train=False)
  scale = int(model_cfg["scale"])
  return {name: normalize(pixels.to_unit_range(
      np.asarray(value)[0, :height * (1 if name == "l" else scale),
                        :width * (1 if name == "l" else scale)]))
          for name, value in outputs.items()}


def test_outputs_match_the_model_at_an_odd_size_that_needs_padding(release_weights,
                                                                   frames_factory):
  """2x V4 needs even LR sides: 45x35 frames are edge-padded to 46x36 and cropped back to
  exactly 90x70."""
  model_cfg, variables = load_weights(release_weights("V4_x2"))
  first, second = (to_float(f) for f in frames_factory(2, 45, 35))
  engine = _engine((model_cfg, variables))
  raw = engine.run([(first, second)], ALL_OUTPUTS)[0]
  assert all(value.dtype == np.float32 and value.min() >= 0 and value.max() <= 1
             for value in raw.values())
  as_uint8 = engine.run([(first, second)], ALL_OUTPUTS, as_uint8=True)[0]
  for name in ALL_OUTPUTS:
    assert as_uint8[name].dtype == np.uint8
    np.testing.assert_array_equal(as_uint8[name], pixels.to_uint8(raw[name]), err_msg=name)
  result = _normalised([raw])[0]
  assert result["ht"].shape == result["h1"].shape == (70, 90, 3)
  assert result["l"].shape == (35, 45, 3)
  expected = _direct(model_cfg, variables, first, second, (36, 46))
  for name in ALL_OUTPUTS:
    np.testing.assert_allclose(result[name], expected[name], atol=2e-5, err_msg=name)


def test_frames_below_the_flow_minimum_are_padded_for_the_flow(v4_x4, frames_factory):
  first, second = (to_float(f) for f in frames_factory(2, 29, 21))
  result = _normalised(_engine(v4_x4).run([(first, second)], ("ht", "l")))[0]
  assert result["ht"].shape == (84, 116, 3) and result["l"].shape == (21, 29, 3)
  padded = [padding.pad_bottom_right(f, 32, 32) for f in (first, second)]
  expected = _direct(*v4_x4, *padded, (32, 32))
  np.testing.assert_allclose(result["ht"], expected["ht"][:84, :116], atol=2e-5)


def test_tiles_equal_untiled(v4_x4, frames_factory):
  """Two pairs x three 56-px tiles (default 16-px overlap) in batches of 4 (the last one
  filled up) against one untiled pass per pair: within 1e-3 (normalised space). Not
  bit-equal even far from the seams: V2/V4 upsample the motion features with
  align_corners=True, whose sample positions depend on the input size."""
  frames = [to_float(f) for f in frames_factory(3, 100, 40)]
  pairs = list(zip(frames[:-1], frames[1:]))
  untiled = _normalised(_engine(v4_x4).run(pairs, ALL_OUTPUTS))
  engine = _engine(v4_x4, tile_size=56, batch_size=4)
  assert len(engine.planner.tile_plan(40, 100)) == 3
  tiled = _normalised(engine.run(pairs, ALL_OUTPUTS))
  for one_tiled, one_untiled in zip(tiled, untiled):
    for name in ALL_OUTPUTS:
      assert np.abs(one_tiled[name] - one_untiled[name]).max() < 1e-3, name
  assert np.abs(tiled[0]["ht"] - tiled[1]["ht"]).max() > 0.05  # the pairs really differ
  # A lone tile is far off near its cut edge: the overlap handling is what passes the test.
  lone = _normalised(engine.run([(frames[0][:, :56], frames[1][:, :56])], ("ht",)))[0]
  assert np.abs(lone["ht"][:, -8:] - untiled[0]["ht"][:, 216:224]).max() > 1e-2


def test_tile_size_follows_the_memory_budget(v4_x4):
  engine = _engine(v4_x4, tile_overlap=8)
  per_pixel = engine.network.bytes_per_lr_pixel()
  assert per_pixel > 0
  assert len(engine.planner.tile_plan(40, 48)) == 1  # the machine's budget holds a small frame
  small = _engine(v4_x4, tile_overlap=8, memory_budget_gb=per_pixel * 30 * 30 / 2**30)
  tiles = small.planner.tile_plan(40, 48)
  assert len(tiles) > 1
  assert all(t.height * t.width <= 30 * 30 for t in tiles)
  tiny = _engine(v4_x4, tile_overlap=8, memory_budget_gb=per_pixel * 12 * 12 / 2**30)
  with pytest.raises(UserInputError, match="memory budget"):
    tiny.planner.tile_plan(40, 48)


def test_bfloat16_stays_close_to_float32(v4_x4, frames_factory):
  pair = tuple(to_float(f) for f in frames_factory(2, 40, 32))
  reference = normalize(_engine(v4_x4).run([pair], ("ht",))[0]["ht"])
  low = _engine(v4_x4, dtype="bfloat16").run([pair], ("ht",))[0]["ht"]
  assert low.dtype == np.float32
  error = np.abs(normalize(low) - reference).max()
  assert 0 < error < 0.25


def test_batched_equals_unbatched_with_a_partial_last_batch(v4_x4, frames_factory):
  """4 pairs in batches of 3 (the second batch holds one pair and two fillers) against one
  pair per batch: the same flows and outputs."""
  frames = [to_float(f) for f in frames_factory(5, 40, 32)]
  pairs = list(zip(frames[:-1], frames[1:]))
  single, batched = _engine(v4_x4, batch_size=1), _engine(v4_x4, batch_size=3)
  for a, b in zip(single.prepare(pairs).arrays, batched.prepare(pairs).arrays):
    np.testing.assert_allclose(a, b, atol=1e-6)
  one = _normalised(single.run(pairs, ALL_OUTPUTS))
  many = _normalised(batched.run(pairs, ALL_OUTPUTS))
  assert len(many) == 4
  for index, (x, y) in enumerate(zip(one, many)):
    for name in ALL_OUTPUTS:
      np.testing.assert_allclose(x[name], y[name], atol=1e-5, err_msg=f"{name} pair {index}")
  assert np.abs(many[3]["ht"] - many[2]["ht"]).max() > 0.05  # the last pair is its own


def test_prepare_refuses_no_pairs(v4_x4):
  with pytest.raises(ValueError, match="at least one frame pair"):
    _engine(v4_x4).prepare([])


@pytest.mark.parametrize("fields, message", [
    (dict(tile_size=8, tile_overlap=8), "tile_size 8 must be larger than tile_overlap 8"),
    (dict(tile_overlap=-1), "tile_overlap must be >= 0, got -1"),
    (dict(batch_size=0), "batch_size must be >= 1, got 0"),
    (dict(memory_budget_gb=0.0), "memory_budget_gb must be > 0, got 0.0")])
def test_engine_options_name_the_bad_field(fields, message):
  with pytest.raises(UserInputError, match=message) as caught:
    EngineOptions(**fields)
  assert caught.value.parameters[0] in fields


_MULTI_DEVICE_SCRIPT = """
import json, sys
import jax, numpy as np
sys.path.insert(0, sys.argv[2])
from conftest import moving_frames
from star_jax.weights import load_weights
from star_jax.pixels import normalize, to_float
from star_jax.infer import EngineOptions, JaxNetwork, PairEngine
cfg, variables = load_weights(sys.argv[1])
frames = [to_float(f) for f in moving_frames(4, 40, 32)]
pairs = list(zip(frames[:-1], frames[1:]))  # 3 pairs: the second batch of 2 is partial
both = PairEngine(JaxNetwork(cfg, variables))
single = PairEngine(JaxNetwork(cfg, variables, devices=jax.local_devices()[:1]),
                    options=EngineOptions(batch_size=2))
flows = [np.abs(x - y).max() for x, y in zip(both.prepare(pairs).arrays[2:],
                                             single.prepare(pairs).arrays[2:])]
a, b = both.run(pairs, ("ht",)), single.run(pairs, ("ht",))
print(json.dumps({"devices": len(both.network.devices), "batch": both.batch_size,
                  "flow_diff": float(max(flows)),
                  "diff": max(float(np.abs(normalize(x["ht"]) - normalize(y["ht"])).max())
                              for x, y in zip(a, b))}))
"""


def test_batches_are_split_over_every_local_device(release_weights):
  env = dict(os.environ, XLA_FLAGS=fake_device_flags(2),
             JAX_PLATFORMS="cpu")
  completed = subprocess.run(
      [sys.executable, "-c", _MULTI_DEVICE_SCRIPT, str(release_weights("V4_x4")),
       os.path.dirname(__file__)], capture_output=True, text=True, env=env, timeout=600,
      check=False)
  assert completed.returncode == 0, completed.stderr[-3000:]
  result = json.loads(completed.stdout.strip().splitlines()[-1])
  assert result["devices"] == 2 and result["batch"] == 2
  assert result["flow_diff"] < 1e-6  # the flow batch split over both devices
  assert result["diff"] < 1e-5


def test_equal_model_configs_share_one_jitted_forward():
  """The engine's cache key is the ModelConfig itself: equal configs, however made, get the
  same jitted forward (nothing compiles twice); another compute dtype gets its own."""
  first = engine_forward(ModelConfig(variant="V4", scale=2, feat=8))
  assert engine_forward(ModelConfig.from_mapping({"variant": "V4", "scale": 2, "feat": 8})) is first
  assert engine_forward(ModelConfig(variant="V4", scale=2, feat=8, dtype="bfloat16")) is not first


_SPLIT_FRAME_SCRIPT = """
import json, sys
import jax, numpy as np
sys.path.insert(0, sys.argv[1])
from conftest import moving_frames
from star_jax.model import ModelConfig, build_model, sample_inputs
from star_jax.pixels import normalize, to_float
from star_jax.flow import FlowSettings
from star_jax.infer import EngineOptions, JaxNetwork, PairEngine
from star_jax.infer.network import ALL_OUTPUT_NAMES
cfg = ModelConfig(variant="V4", scale=2, base_filter=8, feat=4, n_resblock=1)
variables = build_model(cfg).init(jax.random.key(0), *sample_inputs())
frames = [to_float(f) for f in moving_frames(4, 48, 42)]
pairs = list(zip(frames[:-1], frames[1:]))  # 3 pairs: 2 per step, the second step partial
flow = FlowSettings("opencv_dis")
network = JaxNetwork(cfg, variables)
whole = PairEngine(JaxNetwork(cfg, variables, devices=jax.local_devices()[:1]), flow,
                   EngineOptions(memory_budget_gb=1024))
height, width = whole.prepare(pairs[:1]).arrays[0].shape[1:3]
frame_gb = whole.network.bytes_per_lr_pixel() * height * width / 2**30
split = PairEngine(network, flow, EngineOptions(memory_budget_gb=frame_gb / 1.5))
tiled = PairEngine(network, flow, EngineOptions(memory_budget_gb=frame_gb / 6, tile_overlap=4))
a, b = whole.run(pairs, ALL_OUTPUT_NAMES), split.run(pairs, ALL_OUTPUT_NAMES)
print(json.dumps({
    "height": height, "split": split.planner.frame_split(height, width),
    "split_tiles": len(split.planner.tile_plan(height, width)),
    "tiled_split": tiled.planner.frame_split(height, width),
    "tiled_tiles": len(tiled.planner.tile_plan(height, width)),
    "diff": max(float(np.abs(normalize(x[n]) - normalize(y[n])).max())
                for x, y in zip(a, b) for n in ALL_OUTPUT_NAMES),
    "scale": max(float(np.abs(normalize(x[n])).max()) for x in a for n in ALL_OUTPUT_NAMES)}))
"""


def test_a_frame_too_big_for_one_device_is_split_over_devices_not_tiled():
  """4 fake devices whose budgets hold 2/3 of a frame each: the frame runs whole, its height
  split over 2 devices, 2 pairs per step (the last step filled up), equal to one device's
  untiled result; a budget too small for all 4 devices together tiles."""
  env = dict(os.environ, XLA_FLAGS=fake_device_flags(4), JAX_PLATFORMS="cpu")
  completed = subprocess.run(
      [sys.executable, "-c", _SPLIT_FRAME_SCRIPT, os.path.dirname(__file__)],
      capture_output=True, text=True, env=env, timeout=600, check=False)
  assert completed.returncode == 0, completed.stderr[-3000:]
  result = json.loads(completed.stdout.strip().splitlines()[-1])
  assert (result["split"], result["split_tiles"]) == (2, 1), result
  assert result["tiled_split"] == 1 and result["tiled_tiles"] > 1, result
  assert result["diff"] <= 1e-5 * result["scale"], result
