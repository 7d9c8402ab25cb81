"""``python -m star_jax.evaluate --protocol stvsr`` end to end on tiny synthetic septuplets
(Vimeo layout with Fast/Medium/Slow lists) and a Vid4-layout folder with an odd- and an
even-length clip, made at test time from a photograph: its per-clip numbers equal an
independent computation (ResizeRight LR, flows, a plain model.apply, scikit-image PSNR/SSIM
on scikit-image's Y, the frame assignment written out by hand), and the table averages per
clip then over clips."""

import csv
import json

import numpy as np
import pytest
from PIL import Image
from resize_right import interp_methods, resize_right
from skimage import data as skimage_data
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from star_jax import flow as flow_lib
from star_jax.errors import UserInputError
from star_jax.evaluate import stvsr
from star_jax.cli.evaluate import main
from star_jax.model import build_model
from star_jax.weights import load_weights

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
HR_H, HR_W = 128, 160  # LR 32x40 at x4 (no padding before the flows)


def _clip(start, count, step=3):
  """``count`` HR frames: a window sliding ``step`` px per frame over a photograph."""
  photo = skimage_data.chelsea()  # 300x451
  return [np.ascontiguousarray(photo[30 + start + i:30 + start + i + HR_H,
                                     40 + 2 * start + step * i:40 + 2 * start + step * i + HR_W])
          for i in range(count)]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
  root = tmp_path_factory.mktemp("stvsr")
  vimeo = root / "vimeo_septuplet"
  clips = {"fast": ["00001/0001"], "medium": ["00001/0002", "00002/0001"], "slow": ["00003/0001"]}
  for index, (subset, names) in enumerate(clips.items()):
    (vimeo / f"{subset}_testset.txt").parent.mkdir(parents=True, exist_ok=True)
    (vimeo / f"{subset}_testset.txt").write_text("".join(f"{n}\n" for n in names))
    for offset, name in enumerate(names):
      folder = vimeo / "sequences" / name
      folder.mkdir(parents=True)
      for number, frame in enumerate(_clip(10 * index + 5 * offset, 7, step=2 + index), 1):
        Image.fromarray(frame).save(folder / f"im{number}.png")
  vid4 = root / "Vid4" / "GT"
  for name, count in (("calendar", 5), ("city", 6)):
    (vid4 / name).mkdir(parents=True)
    for number, frame in enumerate(_clip(7 if name == "city" else 0, count)):
      Image.fromarray(frame).save(vid4 / name / f"{number:08d}.png")
  return vimeo, root / "Vid4"


def test_frame_schedule():
  assert stvsr.frame_schedule(7) == [((0, 2), {0: "h1", 1: "ht"}), ((2, 4), {2: "h1", 3: "ht"}),
                                     ((4, 6), {4: "h1", 5: "ht", 6: "h2"})]
  assert stvsr.frame_schedule(3) == [((0, 2), {0: "h1", 1: "ht", 2: "h2"})]
  # Even length: the last frame comes from the pair moved back to end on it.
  assert stvsr.frame_schedule(6) == [((0, 2), {0: "h1", 1: "ht"}),
                                     ((2, 4), {2: "h1", 3: "ht", 4: "h2"}),
                                     ((3, 5), {5: "h2"})]
  for n in range(3, 50):
    frames = [f for _, assigned in stvsr.frame_schedule(n) for f in assigned]
    assert sorted(frames) == list(range(n))  # every frame exactly once
  with pytest.raises(ValueError):
    stvsr.frame_schedule(2)


def _matlab_lr(frame):
  lr = resize_right.resize(frame.astype(np.float64), scale_factors=[0.25, 0.25, 1],
                           interp_method=interp_methods.cubic, antialiasing=True,
                           pad_mode="symmetric")
  return np.floor(np.clip(lr, 0, 255) + 0.5).astype(np.uint8)


def _outputs(model, variables, first, second):
  a, b = first.astype(np.float32) / 255, second.astype(np.float32) / 255
  flows = -np.clip(flow_lib.compute_flow(np.stack([a, b]), np.stack([b, a])), -150, 150) / 150
  outputs = model.apply(variables, ((a - MEAN) / STD)[None], ((b - MEAN) / STD)[None],
                        flows[:1], flows[1:], train=False)
  return {name: np.round(np.clip(np.asarray(value)[0] * STD + MEAN, 0, 1) * 255).astype(
      np.uint8) for name, value in outputs.items()}


def _independent_clip_score(model, variables, hr, assignment):
  """assignment: frame -> (first input, second input, output); means of Y PSNR and SSIM."""
  psnrs, ssims = [], []
  for index, (a, b, name) in assignment.items():
    frame = _outputs(model, variables, _matlab_lr(hr[a]), _matlab_lr(hr[b]))[name]
    y_out, y_gt = rgb2ycbcr(frame)[..., 0], rgb2ycbcr(hr[index])[..., 0]
    psnrs.append(peak_signal_noise_ratio(y_gt, y_out, data_range=255))
    ssims.append(structural_similarity(y_out, y_gt, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=255))
  return np.mean(psnrs), np.mean(ssims)


def test_protocol_end_to_end(datasets, tmp_path, capsys, shared_dir):
  vimeo, vid4 = datasets
  weights = shared_dir / "parity" / "V4_x4" / "model.pth.gz"
  out = tmp_path / "out"
  code = main(["--protocol", "stvsr", "--weights", str(weights), "--vimeo-dir", str(vimeo),
               "--vid4-dir", str(vid4), "--output-dir", str(out), "--no-progress",
               "--save-frames"])
  printed = capsys.readouterr()
  assert code == 0, printed.err
  for title in ("Vimeo-Fast", "Vimeo-Medium", "Vimeo-Slow", "Vid4", "PSNR", "SSIM", "Params",
                "Frames/s"):
    assert title in printed.out
  assert (out / "table.txt").read_text().strip() in printed.out

  rows = {(r["test_set"], r["clip"]): r for r in csv.DictReader((out / "clips.csv").open())}
  assert sorted(rows) == sorted([("fast", "00001/0001"), ("medium", "00001/0002"),
                                 ("medium", "00002/0001"), ("slow", "00003/0001"),
                                 ("vid4", "calendar"), ("vid4", "city")])
  assert [int(rows[("vid4", c)]["frames"]) for c in ("calendar", "city")] == [5, 6]
  assert int(rows[("slow", "00003/0001")]["frames"]) == 7

  model_cfg, variables = load_weights(weights)
  model = build_model(model_cfg)
  seven = {0: (0, 2, "h1"), 1: (0, 2, "ht"), 2: (2, 4, "h1"), 3: (2, 4, "ht"),
           4: (4, 6, "h1"), 5: (4, 6, "ht"), 6: (4, 6, "h2")}
  six = {0: (0, 2, "h1"), 1: (0, 2, "ht"), 2: (2, 4, "h1"), 3: (2, 4, "ht"),
         4: (2, 4, "h2"), 5: (3, 5, "h2")}
  hr_slow = [np.asarray(Image.open(vimeo / "sequences" / "00003/0001" / f"im{i}.png"))
             for i in range(1, 8)]
  hr_city = [np.asarray(Image.open(vid4 / "GT" / "city" / f"{i:08d}.png")) for i in range(6)]
  for key, hr, assignment in ((("slow", "00003/0001"), hr_slow, seven),
                              (("vid4", "city"), hr_city, six)):
    psnr, ssim = _independent_clip_score(model, variables, hr, assignment)
    assert float(rows[key]["psnr_y"]) == pytest.approx(psnr, abs=0.02), key
    assert float(rows[key]["ssim_y"]) == pytest.approx(ssim, abs=2e-4), key
  saved = np.asarray(Image.open(out / "frames" / "vid4" / "city" / "00000005.png"))
  assert saved.shape == (HR_H, HR_W, 3)

  summary = json.loads((out / "summary.json").read_text())
  medium = [float(rows[("medium", c)]["psnr_y"]) for c in ("00001/0002", "00002/0001")]
  assert summary["sets"]["medium"]["psnr_y"] == pytest.approx(np.mean(medium))
  assert summary["sets"]["medium"]["clips"] == 2
  assert summary["sets"]["vid4"]["frames"] == 11
  assert summary["params"] == 537957  # the release's parameter count (parity meta.json)
  assert summary["output_frames"] == 4 * 7 + 11 and summary["output_frames_per_second"] > 0
  assert summary["flow"] == flow_lib.FlowSettings("coarse2fine").record  # every setting, not a name


def test_protocol_errors_are_one_line(datasets, tmp_path, capsys, shared_dir):
  vimeo, _ = datasets
  weights = str(shared_dir / "parity" / "V4_x4" / "model.pth.gz")
  cases = [
      (["--protocol", "stvsr"], "needs --vimeo-dir, --vid4-dir or both"),
      (["--protocol", "stvsr", "--vimeo-dir", str(vimeo), "--subsets", "fast,huge"],
       "subsets"),
      (["--protocol", "stvsr", "--vimeo-dir", str(tmp_path)], "fast_testset.txt does not exist"),
      (["--protocol", "stvsr", "--vid4-dir", str(tmp_path / "none")], "does not exist"),
      (["--protocol", "stvsr", "--vimeo-dir", str(vimeo), "--dataset", "ucf101"],
       "--dataset and --data-dir belong to --protocol paper"),
      (["--dataset", "ucf101", "--vid4-dir", str(tmp_path)], "belong to --protocol stvsr"),
      (["--data-dir", str(tmp_path)], "--protocol paper needs --dataset and --data-dir"),
  ]
  for argv, message in cases:
    code = main(["--weights", weights, "--no-progress", "--output-dir", str(tmp_path / "o")]
                + argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], (argv, err)


def test_a_clip_of_two_frames_is_bad_input():
  with pytest.raises(UserInputError, match="at least 3 frames, got 2"):
    stvsr.frame_schedule(2)
