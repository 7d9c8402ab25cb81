"""StableHLO export: the loaded function equals the engine's jitted forward bit for bit on
CPU, for any batch when exported with a dynamic one, and loading needs no model code."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from star_jax.weights import load_weights
from star_jax.export.forward import load_export_source
from star_jax.export.loader import load_stablehlo
from star_jax.export.stablehlo import export_stablehlo
from star_jax.infer.network import eval_forward
from star_jax.model import OUTPUT_NAMES
from tests.conftest import REPO_ROOT
from tests.export.conftest import export_source, parity_io


@pytest.fixture(scope="module")
def v4_export(shared_dir, tmp_path_factory):
  directory = tmp_path_factory.mktemp("v4_hlo")
  source = export_source(shared_dir, "V4_x4", "b")
  export_stablehlo(source, directory)
  return directory, source


def test_round_trip_is_bit_exact_for_any_batch(shared_dir, v4_export):
  directory, source = v4_export
  inputs, release = parity_io(shared_dir, "V4_x4")
  _, variables = load_weights(shared_dir / "parity" / "V4_x4" / "model.pth.gz")
  reference = jax.jit(eval_forward(source.model_config))
  model = load_stablehlo(directory)
  for batch in (2, 1):
    got = model(*[x[:batch] for x in inputs])
    want = reference(variables, *[x[:batch] for x in inputs])
    for name, array in zip(OUTPUT_NAMES, got):
      np.testing.assert_array_equal(np.asarray(array), np.asarray(want[name]), err_msg=name)
  np.testing.assert_allclose(np.asarray(got[0]), release["ht"][:1], atol=1e-4)


def test_sidecar_describes_the_export(v4_export):
  directory, _ = v4_export
  sidecar = json.loads((directory / "model.json").read_text())
  assert sidecar["format"] == "stablehlo" and sidecar["variant"] == "V4"
  assert sidecar["scale"] == 4 and sidecar["layout"] == "NHWC"
  assert [i["shape"] for i in sidecar["inputs"]] == [["b", 12, 20, 3]] * 2 + [["b", 12, 20, 2]] * 2
  assert [o["name"] for o in sidecar["outputs"]] == list(OUTPUT_NAMES)
  assert sidecar["outputs"][0]["shape"] == ["b", 48, 80, 3]
  assert sidecar["normalisation"]["mean"] == pytest.approx([0.485, 0.456, 0.406])
  assert sidecar["flow"]["max_px"] == 150.0
  assert sidecar["versions"]["jax"] == jax.__version__


def test_loader_imports_no_model_code(v4_export):
  directory, _ = v4_export
  script = (
      "import sys, numpy as np\n"
      "from star_jax.export.loader import load_stablehlo\n"
      f"m = load_stablehlo({str(directory)!r})\n"
      "z = lambda c: np.zeros((1, 12, 20, c), np.float32)\n"
      "out = m(z(3), z(3), z(2), z(2))\n"
      "bad = [n for n in sys.modules if n == 'flax' or n.startswith(('star_jax.model', "
      "'star_jax.infer', 'star_jax.convert', 'flax.'))]\n"
      "print(out[0].shape, bad)\n")
  env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
  result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True)
  assert result.stdout.strip().endswith("(1, 48, 80, 3) []"), result.stdout


def test_export_refuses_an_existing_export_and_a_bad_size(shared_dir, v4_export):
  directory, source = v4_export
  with pytest.raises(FileExistsError, match="already holds an export"):
    export_stablehlo(source, directory)
  with pytest.raises(ValueError, match="divisible by 2"):
    load_export_source(shared_dir / "parity" / "V4_x2" / "model.pth.gz", (12, 21), 1)
