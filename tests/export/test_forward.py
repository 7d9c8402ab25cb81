"""Argument parsing of the exporters and their one-line errors."""

import pytest

from star_jax.cli import export as export_cli
from star_jax.export.forward import parse_batch, parse_lr_size
from star_jax.export.sidecar import DYNAMIC_BATCH


def test_parse_lr_size_and_batch():
  assert parse_lr_size("64x112") == (64, 112) and parse_lr_size(" 8X8 ") == (8, 8)
  assert parse_batch("dynamic") == DYNAMIC_BATCH and parse_batch("4") == 4
  for bad in ("64", "0x8", "axb", "64x"):
    with pytest.raises(ValueError, match="lr_size"):
      parse_lr_size(bad)
  for bad in ("0", "-1", "two"):
    with pytest.raises(ValueError, match="batch must be"):
      parse_batch(bad)


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
  code = export_cli.main(["stablehlo", "--weights", str(tmp_path / "none.pth"),
                          "--lr-size", "8x8", "--output", str(tmp_path / "out")])
  assert code == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "none.pth" in err and "do not exist" in err
