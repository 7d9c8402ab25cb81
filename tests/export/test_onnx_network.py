"""The ``run`` consumer: a small generated clip through the ONNX export in onnxruntime (an
``OnnxNetwork`` in the inference engine), tiled at the exported LR size, written through the
project's video writer."""

import fractions
import json

import numpy as np
import pytest

from star_jax.cli import export as export_cli
from star_jax.errors import UserInputError
from star_jax.export import sidecar as sidecar_lib
from star_jax.export.onnx_network import OnnxNetwork
from star_jax.infer import EngineOptions, PairEngine
from star_jax.video.reader import iter_video_frames, probe_video
from star_jax.video.timeline import Timeline
from star_jax.video.writer import VideoWriter

# With `pytest -n`, the tests of the shared ONNX export run on the worker that builds it.
pytestmark = pytest.mark.xdist_group("v4_onnx_export")


def _write_clip(path, count=3, width=36, height=24, fps=12):
  rng = np.random.default_rng(0)
  photo = (rng.uniform(size=(height + count, width + count, 3)) * 255).astype(np.uint8)
  writer = VideoWriter(path, Timeline.constant_rate(count, fractions.Fraction(fps)), width, height)
  for t in range(count):
    writer.write(np.ascontiguousarray(photo[t:t + height, t:t + width]))
  writer.close()


def test_run_enhances_a_clip_in_space_and_time(v4_onnx_export, tmp_path, capsys):
  clip, out = tmp_path / "clip.mp4", tmp_path / "out.mp4"
  _write_clip(clip)
  code = export_cli.main(["run", str(v4_onnx_export), "--input", str(clip), "--output", str(out),
                          "--tile-overlap", "4", "--batch-size", "3",
                          "--flow-backend", "opencv_dis", "--no-progress"])
  assert code == 0, capsys.readouterr().err
  info = probe_video(out)
  frames = list(iter_video_frames(out))
  assert (info.width, info.height, info.fps) == (144, 96, fractions.Fraction(24))
  assert len(frames) == 5 and frames[0].shape == (96, 144, 3)
  assert float(np.std(frames[2])) > 10  # an in-between frame with content, not a flat fill
  assert "5 frames 144x96 at 24.000 fps from 3 input frames" in capsys.readouterr().out


def test_engine_tiles_at_the_exported_size(v4_onnx_export):
  network = OnnxNetwork(v4_onnx_export)
  engine = PairEngine(network, options=EngineOptions(tile_overlap=4))
  assert network.fixed_lr_size == (12, 20) and engine.batch_size == 1
  assert engine.planner.frame_split(32, 32) == 1
  tiles = engine.planner.tile_plan(*engine.planner.padded_frame_size(5, 7))  # 32x32: the flow's
  assert {(t.height, t.width) for t in tiles} == {(12, 20)} and len(tiles) == 8  # 4 x 2


def test_engine_refuses_bad_models_and_options(v4_onnx_export, tmp_path):
  with pytest.raises(UserInputError, match="model.json is missing"):
    OnnxNetwork(tmp_path)
  network = OnnxNetwork(v4_onnx_export)
  with pytest.raises(UserInputError, match="tile_overlap 12 must be smaller than"):
    PairEngine(network, options=EngineOptions(tile_overlap=12))
  with pytest.raises(UserInputError, match="tile_size does not apply") as caught:
    PairEngine(network, options=EngineOptions(tile_size=64))
  assert caught.value.parameters == ("tile_size",)


def test_a_fixed_batch_export_runs_only_its_batch(v4_onnx_export, tmp_path):
  """The sidecar's batch decides: the same model file declared as exported for batch 2."""
  fixed = tmp_path / "fixed"
  fixed.mkdir()
  (fixed / sidecar_lib.ONNX_FILE).symlink_to(v4_onnx_export / sidecar_lib.ONNX_FILE)
  sidecar = json.loads((v4_onnx_export / sidecar_lib.SIDECAR_FILE).read_text())
  for entry in sidecar["inputs"]:
    assert entry["shape"][0] == sidecar_lib.DYNAMIC_BATCH
    entry["shape"][0] = 2
  (fixed / sidecar_lib.SIDECAR_FILE).write_text(json.dumps(sidecar))
  network = OnnxNetwork(fixed)
  assert PairEngine(network, options=EngineOptions(tile_overlap=4)).batch_size == 2
  with pytest.raises(UserInputError, match="exported for batch 2; batch_size 3 cannot run on "
                                           "it") as caught:
    PairEngine(network, options=EngineOptions(tile_overlap=4, batch_size=3))
  assert caught.value.parameters == ("batch_size",)
