"""The per-chip peak table: datasheet numbers by device kind, and its refusals."""

import pytest

from star_jax.train.chip_peaks import (HBM_BANDWIDTH_PER_CHIP, HBM_BYTES_PER_CHIP,
                                     PEAK_FLOPS_PER_CHIP, hbm_bandwidth_per_chip,
                                     hbm_bytes_per_chip, peak_flops_per_chip)


def test_datasheet_dense_peaks():
  assert peak_flops_per_chip("NVIDIA H100 80GB HBM3", "bfloat16") == 989.5e12
  assert peak_flops_per_chip("NVIDIA H200", "float32") == 494.5e12  # TF32 dense
  assert peak_flops_per_chip("NVIDIA A100-SXM4-80GB", "bfloat16") == 312e12
  assert peak_flops_per_chip("NVIDIA L4", "bfloat16") == 121e12
  assert peak_flops_per_chip("TPU v5 lite", "bfloat16") == 197e12
  assert peak_flops_per_chip("TPU v6 lite", "float32") == 918e12  # bf16 MXU passes


def test_every_chip_has_both_dtypes_and_bf16_is_not_slower():
  for kind, peaks in PEAK_FLOPS_PER_CHIP.items():
    assert set(peaks) == {"bfloat16", "float32"}, kind
    assert peaks["bfloat16"] >= peaks["float32"] > 0, kind


def test_unknown_chip_and_bad_dtype():
  assert peak_flops_per_chip("cpu", "float32") is None
  with pytest.raises(ValueError, match="float16"):
    peak_flops_per_chip("NVIDIA H200", "float16")


def test_hbm_per_chip_as_google_states_it():
  assert hbm_bytes_per_chip("TPU v4") == 32 * 2**30
  assert hbm_bytes_per_chip("TPU v5 lite") == 16 * 2**30
  assert hbm_bytes_per_chip("TPU v5") == 95 * 2**30
  assert hbm_bytes_per_chip("TPU v6 lite") == 32 * 2**30
  assert hbm_bytes_per_chip("NVIDIA H100 80GB HBM3") == 80e9
  assert hbm_bytes_per_chip("cpu") is None


def test_every_tpu_with_a_peak_has_an_hbm_size():
  tpus = {kind for kind in PEAK_FLOPS_PER_CHIP if kind.startswith("TPU")}
  assert tpus == {kind for kind in HBM_BYTES_PER_CHIP if kind.startswith("TPU")}


def test_hbm_bandwidth_per_chip_as_stated_and_for_every_chip_with_a_size():
  assert hbm_bandwidth_per_chip("TPU v5 lite") == 819e9
  assert hbm_bandwidth_per_chip("TPU v5") == 2765e9
  assert hbm_bandwidth_per_chip("TPU v6 lite") == 1638e9
  assert hbm_bandwidth_per_chip("NVIDIA H200") == 4.8e12
  assert hbm_bandwidth_per_chip("cpu") is None
  assert set(HBM_BANDWIDTH_PER_CHIP) == set(HBM_BYTES_PER_CHIP)
