"""``python -m star_jax.showcase`` end to end on a small demo dataset (generated with
non-default sizes, so a run that regenerated it with the defaults would fail) and a narrow
model in a star_jax checkpoint directory: the input clip, the space-time output, the
comparison strip (its size and where each tile's pixels come from), the printed PSNRs, and
one-line errors."""

import fractions
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from star_jax import showcase
from star_jax.cli import showcase as showcase_cli
from star_jax.weights import load_weights, save_checkpoint
from star_jax.data import demo, frames, vimeo
from star_jax.video import reader
from star_jax.pixels import psnr

HR_WIDTH, HR_HEIGHT, SCALE = 128, 96, 4


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
  return demo.ensure_demo_dataset(
      tmp_path_factory.mktemp("demo"), frame_size=(HR_WIDTH, HR_HEIGHT), num_train_triplets=1,
      num_test_triplets=1, num_train_septuplets=1, num_test_septuplets=2, show_progress=False)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, shared_dir):
  """The narrow V4 4x release model saved as a star_jax checkpoint directory (the format
  training exports; initialising a fresh model would cost ~25 s of op-by-op tracing)."""
  cfg, variables = load_weights(shared_dir / "parity" / "V4_x4" / "model.pth.gz")
  assert int(cfg.scale) == SCALE
  return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model", cfg, variables)


def _run(capsys, *args):
  code = showcase_cli.main([str(arg) for arg in args] + ["--no-progress"])
  captured = capsys.readouterr()
  return code, captured.out, captured.err


def _closest(frame, candidates):
  """Index of the candidate frame with the highest PSNR against ``frame``."""
  return int(np.argmax([psnr(frame, candidate) for candidate in candidates]))


def _assert_one_line_error(code, err, *phrases):
  assert code != 0
  lines = [line for line in err.strip().splitlines() if line]
  assert len(lines) == 1 and lines[0].startswith("error: "), err
  for phrase in phrases:
    assert phrase in lines[0], lines[0]


def test_showcase_writes_clip_output_and_strip(tmp_path, capsys, demo_root, checkpoint):
  out_dir = tmp_path / "showcase"
  code, out, err = _run(capsys, "--weights", checkpoint, "--data-dir", demo_root, "--output",
                        out_dir, "--clip", 1, "--flow-backend", "opencv_dis")
  assert code == 0, err

  clips = vimeo.VimeoClips.open(demo_root, "septuplet", "test")
  hr = clips.load_clip(clips.clips[1])
  lr = [frames.lr_from_hr(frame, SCALE) for frame in hr]

  decoded_input = list(reader.iter_video_frames(out_dir / showcase.INPUT_VIDEO))
  assert len(decoded_input) == 4
  assert decoded_input[0].shape == (HR_HEIGHT // SCALE, HR_WIDTH // SCALE, 3)
  # The clip holds the even frames (codec-compressed, so close rather than equal).
  for index, frame in enumerate(decoded_input):
    assert _closest(frame, lr) == 2 * index
  output_info = reader.probe_video(out_dir / showcase.OUTPUT_VIDEO)
  assert output_info.fps == 2 * showcase.INPUT_FPS
  input_info = reader.probe_video(out_dir / showcase.INPUT_VIDEO)
  assert output_info.timeline.end == input_info.timeline.end == 1  # one second, both
  assert output_info.timeline.times == tuple(fractions.Fraction(k, 8) for k in range(7))
  decoded_output = list(reader.iter_video_frames(out_dir / showcase.OUTPUT_VIDEO))
  assert len(decoded_output) == 7
  assert decoded_output[0].shape == (HR_HEIGHT, HR_WIDTH, 3)

  strip = np.asarray(Image.open(out_dir / showcase.STRIP_IMAGE).convert("RGB"))
  assert (strip.shape[1], strip.shape[0]) == showcase.strip_size(HR_WIDTH, HR_HEIGHT, rows=7)
  assert strip.shape[1] > 4 * HR_WIDTH and strip.shape[0] > 7 * HR_HEIGHT
  for time in range(7):
    def tile(column):
      left, top = showcase.tile_origin(time, column, HR_WIDTH, HR_HEIGHT)
      return strip[top:top + HR_HEIGHT, left:left + HR_WIDTH]
    earlier = lr[time - time % 2]
    np.testing.assert_array_equal(tile(0), np.repeat(np.repeat(earlier, SCALE, 0), SCALE, 1))
    np.testing.assert_array_equal(tile(3), hr[time])
    bicubic = tile(1)
    # In between: the neighbours' average, bicubic upscaled; at an input time: plain bicubic.
    source = ((earlier.astype(np.uint16) + lr[time + 1]) // 2).astype(np.uint8) if time % 2 \
        else earlier
    pil_upscale = np.asarray(Image.fromarray(source).resize((HR_WIDTH, HR_HEIGHT),
                                                            Image.BICUBIC))
    # PIL's 8-bit path rounds between its two separable passes; the showcase resizes floats.
    assert np.abs(bicubic.astype(int) - pil_upscale).max() <= (3 if time % 2 else 8)
    assert np.abs(bicubic.astype(int) - pil_upscale).mean() < 0.5
    assert _closest(tile(2), decoded_output) == time  # "ours": the output frame at `time`
    baseline = "bicubic + average" if time % 2 else "bicubic"
    assert f"time {time}: {baseline:>17} {psnr(bicubic, hr[time]):6.2f}  ours" in out
  assert "mean over the input times: bicubic" in out
  assert "mean over the in-between times: bicubic + average" in out
  assert "checkerboard measure (grid_energy_ratio, period 4" in out
  # The label bands carry text: dark pixels above the first row of tiles.
  assert strip[:showcase.LABEL_HEIGHT].min() < 128
  for name in (showcase.INPUT_VIDEO, showcase.OUTPUT_VIDEO, showcase.STRIP_IMAGE):
    assert f"wrote {out_dir / name}" in out

  code, _, err = _run(capsys, "--weights", checkpoint, "--data-dir", demo_root, "--output",
                      out_dir, "--flow-backend", "opencv_dis")
  _assert_one_line_error(code, err, "already exists", "--overwrite")


def test_missing_weights_is_one_line_error(tmp_path, capsys, demo_root):
  missing = tmp_path / "no_such_model"
  code, _, err = _run(capsys, "--weights", missing, "--data-dir", demo_root, "--output",
                      tmp_path / "out")
  _assert_one_line_error(code, err, str(missing))
  assert not list((tmp_path / "out").iterdir())


def test_missing_data_dir_gets_the_default_demo_dataset(tmp_path, capsys):
  """The dataset is generated before the weights are loaded, so a missing checkpoint still
  shows that the generation path ran (the defaults take a few seconds)."""
  data_dir = tmp_path / "demo_data"
  code, _, err = _run(capsys, "--weights", tmp_path / "no_such_model", "--data-dir", data_dir,
                      "--output", tmp_path / "out")
  notice, error = err.strip().splitlines()
  assert notice == f"generating the demo dataset in {data_dir}"
  _assert_one_line_error(code, error, "no_such_model")
  assert demo.ensure_demo_dataset(data_dir, show_progress=False) == data_dir  # default spec
  assert len(vimeo.read_clip_list(data_dir, "septuplet", "test")) == 8


def test_clip_out_of_range_is_one_line_error(tmp_path, capsys, demo_root, checkpoint):
  code, _, err = _run(capsys, "--weights", checkpoint, "--data-dir", demo_root, "--output",
                      tmp_path / "out", "--clip", 2)
  _assert_one_line_error(code, err, "--clip 2", "2 test septuplets")


def test_help_lists_the_options():
  completed = subprocess.run([sys.executable, "-m", "star_jax.showcase", "--help"],
                             capture_output=True, text=True, check=False, timeout=120)
  assert completed.returncode == 0
  for option in ("--weights", "--data-dir", "--output", "--clip", "--flow-backend",
                 "--no-progress"):
    assert option in completed.stdout


def test_strip_captions_name_each_baseline():
  tile = np.zeros((4, 4, 3), np.uint8)
  between = showcase.StripRow(3, (tile,) * 4, 18.25, 20.5)
  at_input = showcase.StripRow(2, (tile,) * 4, 25.0, 26.0)
  assert between.caption(6) == ("time 3 of 0..6 (between input frames 1 and 2): "
                                "bicubic + average 18.25 dB, ours 20.50 dB")
  assert at_input.caption(6) == "time 2 of 0..6 (input frame 1): bicubic 25.00 dB, ours 26.00 dB"
