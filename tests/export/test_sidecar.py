"""The export sidecar (model.json): a directory that is not an export is bad input."""

import pytest

from star_jax.errors import UserInputError
from star_jax.export import sidecar


def test_a_directory_without_a_sidecar_is_bad_input(tmp_path):
  with pytest.raises(UserInputError, match="is not a star_jax export: model.json is missing"):
    sidecar.read_sidecar(tmp_path, "onnx")


def test_an_unreadable_sidecar_is_bad_input(tmp_path):
  (tmp_path / sidecar.SIDECAR_FILE).write_text("{not json")
  with pytest.raises(UserInputError, match="cannot read"):
    sidecar.read_sidecar(tmp_path, "onnx")


def test_an_export_of_another_format_is_bad_input(tmp_path):
  (tmp_path / sidecar.SIDECAR_FILE).write_text('{"format": "stablehlo"}')
  with pytest.raises(UserInputError, match="holds a 'stablehlo' export, not 'onnx'"):
    sidecar.read_sidecar(tmp_path, "onnx")
