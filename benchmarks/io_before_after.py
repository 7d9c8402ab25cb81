"""Issue 10, cases 6-11: the same user inputs through whichever star_jax is on PYTHONPATH
(run once with main, once with this branch; results in benchmarks/RESULTS.md).

  PYTHONPATH=/path/to/tree python benchmarks/io_before_after.py OUT_DIR
"""
import csv
import gzip
import io
import pathlib
import sys
import time

import cv2
import numpy as np
import torch
from PIL import Image
from skimage import data as skd

from star_jax.convert.__main__ import main as convert
from star_jax.evaluate.__main__ import main as evaluate

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "parity"
d = pathlib.Path(sys.argv[1]); d.mkdir(parents=True, exist_ok=True)
from star_jax.data import frames
k = np.arange(255, dtype=np.uint32)
values = np.stack([257 * k + 128, 257 * k + 129]).astype(np.uint16); want = np.stack([k, k + 1]).astype(np.uint8)
cv2.imwrite(str(d / "rgb16.png"), np.ascontiguousarray(np.dstack([values] * 3)))
got = frames.read_frame(d / "rgb16.png")[..., 0]
print("6 rgb16 wrong values:", int((got != want).sum()), "of", want.size)
Image.fromarray(values).save(d / "g16.png")
print("6 grey16 wrong values:", int((frames.read_frame(d / "g16.png")[..., 0] != want).sum()))
ex = Image.Exif(); ex[0x0112] = 6
Image.fromarray(np.zeros((6, 10, 3), np.uint8)).save(d / "o.jpg", exif=ex.tobytes())
print("6 exif-6 jpeg stored 10x6 read as (H,W):", frames.read_frame(d / "o.jpg").shape[:2])
from star_jax.convert import torch_io
src = FIXTURES / "V4_x2/model.pth.gz"
t = torch.load(io.BytesIO(gzip.decompress(src.read_bytes())), weights_only=True)
torch.save({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in t.items()}, d / "bf16.pth")
torch.save({"params": t}, d / "params.pth")
class Tiny(torch.nn.Module):
  def __init__(self): super().__init__(); self.c = torch.nn.Conv2d(3, 4, 3)
torch.save(Tiny(), d / "module.pth")
for name in ("bf16", "params", "module"):
  try:
    sd = torch_io.load_release_state_dict(d / f"{name}.pth"); print(name, "loaded", len(sd), "keys")
  except Exception as e:
    m = str(e); print(f"{name}: {type(e).__name__}, {len(m.splitlines())} lines, {len(m)} chars: {m.splitlines()[0][:200]}")
photo = skd.chelsea()
grey = [np.ascontiguousarray(photo[40 + 3 * i:96 + 3 * i, 60 + 6 * i:124 + 6 * i, 1]) for i in range(3)]
for sample, f in (("1", lambda x: x), ("2", lambda x: x.astype(np.uint16) * 257)):
  (d / "ucf" / sample).mkdir(parents=True, exist_ok=True)
  for name, frame in zip(("frame_00.png", "frame_01_gt.png", "frame_02.png"), grey):
    Image.fromarray(f(frame)).save(d / "ucf" / sample / name)
fx = FIXTURES
code = evaluate(["--weights", str(fx / "V4_x2/model.pth.gz"), "--dataset", "ucf101", "--data-dir", str(d / "ucf"),
                 "--output-dir", str(d / "out"), "--tasks", "st", "--no-progress"])
rows = {r["sample"]: r["psnr"] for r in csv.DictReader((d / "out" / "metrics.csv").open())}
print("evaluate exit", code, "PSNR 8-bit sample", rows["1"], "16-bit twin", rows["2"])
t, c = time.time(), time.process_time()
code = convert(["verify", str(fx / "V4_x4/model.pth.gz"), str(fx / "V4_x2/io.npz")])
print("verify exit", code, "wall %.1f s cpu %.1f s" % (time.time() - t, time.process_time() - c))

# Case 6, flow CLI: a 16-bit grey texture shifted 2 px to the right.
from star_jax.flow.__main__ import main as flow  # noqa: E402
rng = np.random.default_rng(0)
low = rng.random((12, 20)).astype(np.float32)
tex = np.asarray(Image.fromarray(low, "F").resize((100, 60), Image.BICUBIC))
tex = np.round(20000 + 40000 * (tex - tex.min()) / (tex.max() - tex.min())).astype(np.uint16)
Image.fromarray(np.ascontiguousarray(tex[:, 2:82])).save(d / "a.png")
Image.fromarray(np.ascontiguousarray(tex[:, 0:80])).save(d / "b.png")
flow([str(d / "a.png"), str(d / "b.png"), "--out", str(d / "f.npz"), "--no-compile-cache"])
print("6 flow CLI interior mean (u, v) px:", np.load(d / "f.npz")["flow"][8:-8, 8:-8].mean(axis=(0, 1)))

# Case 10: a checkpoint whose model_config.json was edited.
import json  # noqa: E402
import shutil  # noqa: E402
from star_jax import weights  # noqa: E402
cfg, variables = weights.load_weights(FIXTURES / "V4_x2/model.pth.gz")
weights.save_checkpoint(d / "ck", cfg, variables)
for field, value in [("scale", 4), ("feat", 16), ("variant", "V2"), ("n_resblock", 3)]:
  edited = d / f"ck_{field}"
  shutil.copytree(d / "ck", edited)
  config = json.loads((edited / "model_config.json").read_text())
  config[field] = value
  (edited / "model_config.json").write_text(json.dumps(config))
  t, c = time.time(), time.process_time()
  try:
    weights.load_checkpoint(edited)
    outcome = "loaded without error"
  except Exception as e:  # pylint: disable=broad-except
    outcome = f"{type(e).__name__}, {len(str(e))} chars: {str(e).splitlines()[0][:120]}"
  print(f"10 {field}={value}: {outcome} (wall {time.time() - t:.2f} s, cpu {time.process_time() - c:.2f} s)")
