"""``python -m star_jax.evaluate`` whose results folder cannot be written: beside weights in
a read-only folder (the default) or an unwritable ``--output-dir``: status 2 and one line
naming the option that writes elsewhere, before any model is loaded or run."""

import contextlib
import os
import shutil
import subprocess

import numpy as np
from PIL import Image

from star_jax.cli.evaluate import main


@contextlib.contextmanager
def read_only(folder):
  """``folder`` made unwritable for this process: chmod for a normal user, the immutable
  attribute for root (whom permissions do not stop)."""
  if os.geteuid() == 0:
    subprocess.run(["chattr", "+i", str(folder)], check=True)
  else:
    folder.chmod(0o555)
  try:
    yield folder
  finally:
    if os.geteuid() == 0:
      subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
      folder.chmod(0o755)


def test_read_only_weights_folder(tmp_path, capsys, shared_dir):
  weights_dir = tmp_path / "release"
  weights_dir.mkdir()
  weights = weights_dir / "STAR_2x.pth.gz"
  shutil.copy(shared_dir / "parity" / "V4_x2" / "model.pth.gz", weights)
  clip = tmp_path / "ucf" / "1"
  clip.mkdir(parents=True)
  for name in ("frame_00.png", "frame_01_gt.png", "frame_02.png"):
    Image.fromarray(np.zeros((32, 40, 3), np.uint8)).save(clip / name)
  args = ["--weights", str(weights), "--dataset", "ucf101", "--data-dir",
          str(tmp_path / "ucf"), "--no-progress"]
  with read_only(weights_dir):
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: cannot write the results beside the weights, in "
                             f"{weights_dir / 'STAR_2x.evaluation' / 'ucf101'} (")
    assert err[0].endswith("; pass --output-dir DIR to write them elsewhere")
    code = main(args + ["--output-dir", str(weights_dir / "results")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(
        f"error: --output-dir {weights_dir / 'results'} cannot be written ("), err
  assert sorted(p.name for p in weights_dir.iterdir()) == ["STAR_2x.pth.gz"]
