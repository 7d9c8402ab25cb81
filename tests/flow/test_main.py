"""The command line: python -m star_jax.flow FRAME1 FRAME2."""

import re

import numpy as np
import pytest
from PIL import Image

from star_jax.flow import flo_io
from star_jax.cli.flow import main


@pytest.fixture()
def frames(shared_dir, tmp_path):
  with np.load(shared_dir / "flow" / "fixtures" / "rw_07_09_112x64.npz") as data:
    paths = []
    for key in ("im1_u8", "im2_u8"):
      path = tmp_path / f"{key}.png"
      Image.fromarray(data[key]).save(path)
      paths.append(path)
    return paths, np.stack([data["u"], data["v"]], axis=-1)


def test_cli_writes_npz_flo_and_visualisation(frames, tmp_path, capsys):
  (frame1, frame2), pyflow = frames
  assert main([str(frame1), str(frame2), "--out", str(tmp_path / "f.npz"),
               "--visualize", str(tmp_path / "f.png"), "--no-compile-cache"]) == 0
  with np.load(tmp_path / "f.npz") as data:
    # PNG frames are the fixture's uint8 frames, and im1 = im1_u8 / 255 exactly.
    assert np.linalg.norm(data["flow"] - pyflow, axis=-1).mean() < 1e-5
    assert data["im2W"].shape == (64, 112, 3)
  assert Image.open(tmp_path / "f.png").size == (112, 64)
  assert main([str(frame1), str(frame2), "--backend", "opencv_farneback",
               "--out", str(tmp_path / "f.flo"), "--no-compile-cache"]) == 0
  assert flo_io.read_flo(tmp_path / "f.flo").shape == (64, 112, 2)
  assert "opencv_farneback: 112x64" in capsys.readouterr().out


def test_cli_errors(frames, tmp_path, capsys):
  """Bad input: one error: line naming it, exit status 2 (star_jax.cli's policy)."""
  (frame1, _), _ = frames
  small = tmp_path / "small.png"
  Image.new("RGB", (20, 20)).save(small)
  for args, pattern in (([str(frame1), str(tmp_path / "missing.png")], "does not exist"),
                        ([str(frame1), str(frame1), "--out", str(tmp_path / "f.txt")],
                         r"--out .*f\.txt must end in \.npz or \.flo"),
                        ([str(small), str(small)], "width 20 px")):
    assert main(args + ["--no-compile-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and re.search(pattern, err), err


def test_sixteen_bit_grey_frames_give_the_true_shift(tmp_path, capsys):
  """A smooth 16-bit grey texture (values 20000..60000, all above 8-bit white when clipped)
  shifted 2 px to the right: the flow is (+2, 0) px, not the 0 px of clipped frames. 112x64
  like the fixture above, so the compiled solver is shared."""
  low = np.random.default_rng(0).random((12, 20)).astype(np.float32)
  texture = np.asarray(Image.fromarray(low, "F").resize((120, 64), Image.BICUBIC))
  texture = 20000 + 40000 * (texture - texture.min()) / np.ptp(texture)
  texture = np.round(texture).astype(np.uint16)
  Image.fromarray(np.ascontiguousarray(texture[:, 2:114])).save(tmp_path / "a.png")
  Image.fromarray(np.ascontiguousarray(texture[:, 0:112])).save(tmp_path / "b.png")
  assert Image.open(tmp_path / "a.png").mode == "I;16"
  assert main([str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--out",
               str(tmp_path / "f.npz"), "--no-compile-cache"]) == 0
  with np.load(tmp_path / "f.npz") as data:
    interior = data["flow"][8:-8, 8:-8]
  np.testing.assert_allclose(interior.mean(axis=(0, 1)), [2.0, 0.0], atol=0.02)
  assert "mean |flow| 2.0" in capsys.readouterr().out
