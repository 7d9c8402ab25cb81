"""``convert verify`` against a reference made by another model: refused in one line, from
the shapes, before any forward."""

import numpy as np
import pytest

from star_jax.cli import convert as convert_cli
from star_jax.convert import verify
from star_jax.model import ModelConfig


def _reference(shared_dir, name):
  with np.load(shared_dir / "parity" / name / "io.npz") as f:
    return {k: f[k] for k in f.files}


def _cfg(variant, scale):
  return ModelConfig(variant=variant, scale=scale, base_filter=16, feat=8, n_resblock=2)


@pytest.mark.parametrize("variant, scale, reference, message", [
    ("V4", 4, "V4_x8", "the reference was made by a x8 model (im1 12x8 -> eval_ht 96x64) but "
                       "the weights are V4 x4"),
    ("V4", 8, "V4_x2", "the reference was made by a x2 model (im1 20x12 -> eval_ht 40x24) but "
                       "the weights are V4 x8"),
    ("V4", 4, "V4_REF_x4", "the reference holds flow-refinement outputs (after_train/module."
                           "flow_net.down1.mpconv.1.conv.1.running_mean, ... 46 in all) but the "
                           "weights are V4 x4, without flow refinement"),
    ("V4_REF", 4, "V4_x4", "the weights are V4_REF x4 (flow refinement) but the reference has "
                           "no refined flows (train_flow_f, train_flow_b): it was made by a "
                           "model without it"),
])
def test_reference_of_another_model_is_refused(shared_dir, variant, scale, reference, message):
  with pytest.raises(ValueError) as info:
    verify.check_reference_matches(_cfg(variant, scale), _reference(shared_dir, reference))
  assert str(info.value) == message


def test_reference_with_inconsistent_inputs_is_refused(shared_dir):
  reference = _reference(shared_dir, "V4_x4")
  reference["flow_b"] = reference["flow_b"][:, :, :-1]
  with pytest.raises(ValueError, match=r"^the reference's flow_b has shape \(2, 2, 11, 20\), "
                     r"but im1 \(2, 3, 12, 20\) needs \(2, 2, 12, 20\)$"):
    verify.check_reference_matches(_cfg("V4", 4), reference)
  for name in ("V1_x4", "V4_x2", "V4_REF_x4"):  # every matching reference passes
    model = name.split("_x")[0]
    verify.check_reference_matches(_cfg(model, int(name[-1])), _reference(shared_dir, name))


def test_cli_says_so_in_one_line_before_computing(shared_dir, capsys):
  weights = shared_dir / "parity" / "V4_x4" / "model.pth.gz"
  reference = shared_dir / "parity" / "V4_x2" / "io.npz"
  assert convert_cli.main(["verify", str(weights), str(reference)]) == 2
  captured = capsys.readouterr()
  assert "max abs err" not in captured.out  # no table: nothing was computed
  assert captured.err.strip().splitlines() == [
      f"error: {reference} does not fit {weights}: the reference was made by a x2 model "
      "(im1 20x12 -> eval_ht 40x24) but the weights are V4 x4"]
