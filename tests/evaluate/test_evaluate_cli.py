"""``python -m star_jax.evaluate`` on a tiny UCF101-layout folder: its PSNR / SSIM / IE equal
an independent computation (PIL bicubic LR, flows, a plain model.apply, scikit-image
metrics), and it writes the table, CSV, JSON and frames."""

import csv
import json

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from star_jax import flow as flow_lib
from star_jax.weights import load_weights
from star_jax.cli import evaluate as evaluate_cli
from star_jax.cli.evaluate import main
from star_jax.model import build_model

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def _hr_triplets(count):
  """HR 160x128 triplets: a window moving 4 px per step over a photograph."""
  photo = skimage_data.chelsea()  # 300x451 RGB
  return [[photo[40 + 2 * k + 3 * i:168 + 2 * k + 3 * i, 60 + 4 * k + 6 * i:220 + 4 * k + 6 * i]
           for i in range(3)] for k in range(count)]


def _independent(model, variables, first, second):
  """All outputs as uint8 frames, computed without star_jax.infer / star_jax.data."""
  a, b = first.astype(np.float32) / 255, second.astype(np.float32) / 255
  flows = flow_lib.compute_flow(np.stack([a, b]), np.stack([b, a]))
  flows = -np.clip(flows, -150, 150) / 150
  outputs = model.apply(variables, ((a - MEAN) / STD)[None], ((b - MEAN) / STD)[None],
                        flows[:1], flows[1:], train=False)
  return {name: np.round(np.clip(np.asarray(value)[0] * STD + MEAN, 0, 1) * 255).astype(
      np.uint8) for name, value in outputs.items()}


def _scores(prediction, target):
  return (peak_signal_noise_ratio(target, prediction, data_range=255),
          structural_similarity(prediction, target, channel_axis=-1, gaussian_weights=True,
                                sigma=1.5, use_sample_covariance=False, data_range=255),
          np.abs(prediction.astype(float) - target.astype(float)).mean())


def test_metrics_match_an_independent_computation(tmp_path, capsys, shared_dir):
  weights = shared_dir / "parity" / "V4_x4" / "model.pth.gz"
  data_dir = tmp_path / "ucf"
  triplets = _hr_triplets(1)
  for index, frames in enumerate(triplets):
    folder = data_dir / str(index + 1)
    folder.mkdir(parents=True)
    for name, frame in zip(("frame_00.png", "frame_01_gt.png", "frame_02.png"), frames):
      Image.fromarray(np.ascontiguousarray(frame)).save(folder / name)
  output_dir = tmp_path / "results"
  code = main(["--weights", str(weights), "--dataset", "ucf101", "--data-dir", str(data_dir),
               "--output-dir", str(output_dir), "--save-frames", "--no-progress"])
  printed = capsys.readouterr()
  assert code == 0, printed.err
  for title in ("ST-SR", "S-SR", "T-SR", "UCF101", "PSNR", "SSIM", "IE"):
    assert title in printed.out

  rows = list(csv.DictReader((output_dir / "metrics.csv").open()))
  assert len(rows) == 4  # per sample: ht, h1, h2 (LR inputs) and l (HR inputs)
  model_cfg, variables = load_weights(weights)
  model = build_model(model_cfg)
  expected = {}
  for index, (hr1, hr2, hr3) in enumerate(triplets):
    lr1, lr3 = (np.asarray(Image.fromarray(np.ascontiguousarray(f)).resize((40, 32),
                                                                         Image.BICUBIC))
                for f in (hr1, hr3))
    spatial = _independent(model, variables, lr1, lr3)
    temporal = _independent(model, variables, hr1, hr3)
    sample = str(index + 1)
    expected[(sample, "st", "ht")] = _scores(spatial["ht"], hr2)
    expected[(sample, "s", "h1")] = _scores(spatial["h1"], hr1)
    expected[(sample, "s", "h2")] = _scores(spatial["h2"], hr3)
    expected[(sample, "t", "l")] = _scores(temporal["l"], hr2)
    saved = np.asarray(Image.open(output_dir / "frames" / "st" / sample / "ht.png"))
    assert np.abs(saved.astype(int) - spatial["ht"].astype(int)).max() <= 1
  for row in rows:
    psnr, ssim, ie = expected[(row["sample"], row["task"], row["output"])]
    assert float(row["psnr"]) == pytest.approx(psnr, abs=0.02)
    assert float(row["ssim"]) == pytest.approx(ssim, abs=2e-4)
    assert float(row["ie"]) == pytest.approx(ie, abs=0.02)

  summary = json.loads((output_dir / "summary.json").read_text())
  assert summary["samples"] == 1 and set(summary["tasks"]) == {"st", "s", "t"}
  st_psnr = np.mean([float(r["psnr"]) for r in rows if r["task"] == "st"])
  assert summary["tasks"]["st"]["psnr"] == pytest.approx(st_psnr)
  assert summary["tasks"]["s"]["frames"] == 2


def test_bad_arguments_end_in_one_line(tmp_path, capsys, shared_dir):
  weights = shared_dir / "parity" / "V4_x2" / "model.pth.gz"
  code = main(["--weights", str(weights), "--dataset", "ucf101", "--data-dir",
               str(tmp_path / "missing"), "--no-progress"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code != 0 and len(err) == 1 and "missing does not exist" in err[0]
  code = main(["--weights", str(weights), "--dataset", "ucf101", "--data-dir", str(tmp_path),
               "--tasks", "st,xx", "--no-progress"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code != 0 and len(err) == 1 and "--tasks" in err[0]


def test_sixteen_bit_ground_truth_scores_as_its_eight_bit_twin(tmp_path, capsys, shared_dir):
  """One grey triplet stored as 8-bit PNGs (sample 1) and as 16-bit PNGs, v * 257 (sample
  2): identical scores (before the shared reader, 16-bit frames were clipped to white)."""
  weights = shared_dir / "parity" / "V4_x2" / "model.pth.gz"
  grey = [np.ascontiguousarray(frame[:56, :64, 1]) for frame in _hr_triplets(1)[0]]
  for sample, convert in (("1", lambda f: f), ("2", lambda f: f.astype(np.uint16) * 257)):
    folder = tmp_path / "ucf" / sample
    folder.mkdir(parents=True)
    for name, frame in zip(("frame_00.png", "frame_01_gt.png", "frame_02.png"), grey):
      Image.fromarray(convert(frame)).save(folder / name)
  assert Image.open(tmp_path / "ucf" / "2" / "frame_01_gt.png").mode == "I;16"
  out = tmp_path / "out"
  assert main(["--weights", str(weights), "--dataset", "ucf101", "--data-dir",
               str(tmp_path / "ucf"), "--output-dir", str(out), "--tasks", "st",
               "--no-progress"]) == 0, capsys.readouterr().err
  psnr = {row["sample"]: float(row["psnr"]) for row in csv.DictReader((out / "metrics.csv").open())}
  assert psnr["2"] == psnr["1"] and 5 < psnr["1"] < 60


def test_default_output_dir_is_beside_the_weights(tmp_path):
  checkpoint = tmp_path / "ckpt"
  checkpoint.mkdir()
  assert evaluate_cli.default_output_dir(checkpoint, "demo") == checkpoint / "evaluation" / "demo"
  assert (evaluate_cli.default_output_dir(tmp_path / "STAR_4x.pth.gz", "vimeo90k")
          == tmp_path / "STAR_4x.evaluation" / "vimeo90k")
