"""Middlebury .flo files."""

import numpy as np
import pytest

from star_jax.errors import UserInputError
from star_jax.flow import flo_io


def test_roundtrip_and_header(tmp_path):
  flow = np.random.default_rng(0).normal(size=(3, 5, 2)).astype(np.float32)
  path = tmp_path / "f.flo"
  flo_io.write_flo(path, flow)
  raw = path.read_bytes()
  assert raw[:4] == b"PIEH"
  assert np.frombuffer(raw[4:12], "<i4").tolist() == [5, 3]
  assert len(raw) == 12 + 3 * 5 * 2 * 4
  np.testing.assert_array_equal(np.frombuffer(raw[12:20], "<f4"), flow[0, 0])
  np.testing.assert_array_equal(flo_io.read_flo(path), flow)


def test_bad_inputs(tmp_path):
  with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
    flo_io.write_flo(tmp_path / "x.flo", np.zeros((3, 5)))
  bad = tmp_path / "bad.flo"
  bad.write_bytes(b"NOPE" + bytes(8))
  with pytest.raises(UserInputError, match="PIEH"):
    flo_io.read_flo(bad)
