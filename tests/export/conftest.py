"""Fixtures for the export tests: parity-fixture inputs in NHWC, and one ONNX export of the
narrow V4 4x release model (dynamic batch, the fixture's LR size), shared by the ONNX parity
and run-consumer tests because jax2onnx's conversion is the slow part."""

import numpy as np
import pytest

from star_jax.export.forward import load_export_source
from star_jax.model import OUTPUT_NAMES

INPUT_KEYS = ("im1", "im2", "flow_f", "flow_b")


def parity_io(shared_dir, name):
  """(inputs, release eval outputs) of a parity folder, NHWC float32."""
  with np.load(shared_dir / "parity" / name / "io.npz") as io:
    nhwc = lambda key: np.ascontiguousarray(np.transpose(io[key], (0, 2, 3, 1)))
    return ([nhwc(key) for key in INPUT_KEYS],
            {name: nhwc(f"eval_{name}") for name in OUTPUT_NAMES})


def export_source(shared_dir, name, batch):
  """ExportSource of the parity folder ``name`` at its own LR size."""
  inputs, _ = parity_io(shared_dir, name)
  return load_export_source(shared_dir / "parity" / name / "model.pth.gz",
                            inputs[0].shape[1:3], batch)


@pytest.fixture(scope="session")
def v4_onnx_export(shared_dir, tmp_path_factory):
  """Directory of the ONNX export of parity/V4_x4 with a dynamic batch."""
  from star_jax.export.onnx_export import export_onnx
  directory = tmp_path_factory.mktemp("v4_onnx")
  export_onnx(export_source(shared_dir, "V4_x4", "b"), directory)
  return directory
