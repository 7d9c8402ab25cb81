"""Dense peak FLOP/s per chip, for MFU (model FLOPs utilisation), and HBM size and bandwidth
per chip.

Keys are ``jax.devices()[0].device_kind`` strings (some chips report more than one name);
values are dense (no 2:4 structured sparsity) peak FLOP/s of **one chip** (one JAX device) for
the two compute dtypes STARnet trains in:

==========================  ==========  ===========  ======================================
chip (device_kind)          bfloat16    float32      source
==========================  ==========  ===========  ======================================
H100 SXM                    989.5 T     494.5 T      NVIDIA H100 Tensor Core GPU datasheet
("NVIDIA H100 80GB HBM3")                            (BF16 1,979 / TF32 989 TFLOPS "with
                                                     sparsity", halved; FP32 67 TFLOPS)
H200 SXM ("NVIDIA H200")    989.5 T     494.5 T      NVIDIA H200 Tensor Core GPU datasheet
                                                     (same figures as H100 SXM)
A100 SXM 80GB               312 T       156 T        NVIDIA A100 Tensor Core GPU datasheet
("NVIDIA A100-SXM4-80GB")                            (BF16 312 / TF32 156 TFLOPS dense;
                                                     FP32 19.5 TFLOPS)
L4 ("NVIDIA L4")            121 T       60 T         NVIDIA L4 Tensor Core GPU datasheet
                                                     (BF16 242 / TF32 120 TFLOPS "with
                                                     sparsity", halved; FP32 30.3 TFLOPS)
TPU v4 ("TPU v4")           275 T       275 T        Cloud TPU docs, "TPU v4": peak compute
                                                     per chip (bf16) 275 TFLOPs
TPU v5e ("TPU v5 lite")     197 T       197 T        Cloud TPU docs, "TPU v5e": 197 TFLOPs
TPU v5p ("TPU v5")          459 T       459 T        Cloud TPU docs, "TPU v5p": 459 TFLOPs
TPU v6e ("TPU v6 lite")     918 T       918 T        Cloud TPU docs, "TPU v6e" (Trillium):
                                                     918 TFLOPs
==========================  ==========  ===========  ======================================

What "float32" means here: the peak of the units XLA actually runs float32 convolutions on at
JAX's default precision (``jax_default_matmul_precision`` unset):

* NVIDIA Ampere and later: TF32 tensor cores (JAX/XLA default to TF32 for float32 dots and
  convolutions; jax-ml/jax#4873, #12008), so the **TF32 dense** peak is used. With
  ``jax_default_matmul_precision='highest'`` the plain FP32 (CUDA core) peak applies instead:
  67 T (H100/H200 SXM), 19.5 T (A100), 30.3 T (L4); MFU printed against TF32 then understates
  utilisation by that ratio.
* TPU: Google publishes no float32 peak; the MXUs compute in bfloat16 and XLA:TPU runs
  float32 convolutions as bfloat16 passes (one pass at the default precision), so the bf16
  peak is used for both.

HBM (device memory) of one chip, :data:`HBM_BYTES_PER_CHIP`, for ahead-of-time planning
(``star_jax.plan``: does a compiled step fit?), as Google's Cloud TPU documentation states it
("System architecture" tables of the per-generation pages, docs.cloud.google.com/tpu/docs/
v4, v5e, v5p, v6e): TPU v4 "HBM2 capacity 32 GiB"; v5e "HBM2 capacity 16 GB"; v5p "HBM2e
capacity 95 GB"; v6e "HBM capacity per chip 32 GB". The pages write GiB for v4 and GB for
the others; GB means GiB here: libtpu's compiler itself says a v5e has 15.75 GiB available
(its RESOURCE_EXHAUSTED message, ``benchmarks/results/plan.md``), above 16 x 10^9 bytes, 16 GiB
less what the runtime keeps. GPUs: the NVIDIA H100 (80 GB HBM3) and H200 (141 GB HBM3e)
Tensor Core GPU datasheets, read as 10^9 bytes (an 80 GB H100 reports 79.1 GiB).

HBM bandwidth of one chip, :data:`HBM_BANDWIDTH_PER_CHIP` (bytes/s), for the plan's roofline
bound: the same Cloud TPU pages, TPU v4 "1200 GBps", v5e "819 GBps", v5p "2765 GBps", v6e
"1638 GBps"; the NVIDIA datasheets, H100 SXM 3.35 TB/s, H200 4.8 TB/s (GB = 10^9 bytes).

CPUs and any chip not listed have no entry: give ``config.peak_flops_per_chip`` (e.g. the
measured peak of ``benchmarks/cpu_peak.py``) to get an MFU there.
"""

from typing import Dict, Optional

from star_jax.model import COMPUTE_DTYPES

_H100_SXM = {"bfloat16": 1979e12 / 2, "float32": 989e12 / 2}
_A100_SXM = {"bfloat16": 312e12, "float32": 156e12}
_L4 = {"bfloat16": 242e12 / 2, "float32": 120e12 / 2}


def _tpu(bf16: float) -> Dict[str, float]:
  return {"bfloat16": bf16, "float32": bf16}


PEAK_FLOPS_PER_CHIP: Dict[str, Dict[str, float]] = {
    "NVIDIA H100 80GB HBM3": _H100_SXM,
    "NVIDIA H200": _H100_SXM,
    "NVIDIA A100-SXM4-80GB": _A100_SXM,
    "NVIDIA L4": _L4,
    "TPU v4": _tpu(275e12),
    "TPU v5 lite": _tpu(197e12),
    "TPU v5e": _tpu(197e12),
    "TPU v5": _tpu(459e12),
    "TPU v5p": _tpu(459e12),
    "TPU v6 lite": _tpu(918e12),
    "TPU v6e": _tpu(918e12),
}


HBM_BYTES_PER_CHIP: Dict[str, int] = {
    "TPU v4": 32 * 2**30,
    "TPU v5 lite": 16 * 2**30,
    "TPU v5e": 16 * 2**30,
    "TPU v5": 95 * 2**30,
    "TPU v5p": 95 * 2**30,
    "TPU v6 lite": 32 * 2**30,
    "TPU v6e": 32 * 2**30,
    "NVIDIA H100 80GB HBM3": 80 * 10**9,
    "NVIDIA H200": 141 * 10**9,
}


HBM_BANDWIDTH_PER_CHIP: Dict[str, float] = {
    "TPU v4": 1200e9,
    "TPU v5 lite": 819e9,
    "TPU v5e": 819e9,
    "TPU v5": 2765e9,
    "TPU v5p": 2765e9,
    "TPU v6 lite": 1638e9,
    "TPU v6e": 1638e9,
    "NVIDIA H100 80GB HBM3": 3.35e12,
    "NVIDIA H200": 4.8e12,
}


def hbm_bandwidth_per_chip(device_kind: str) -> Optional[float]:
  """HBM bandwidth (bytes/s) of one ``device_kind`` chip (module docstring), or None when
  the chip is not in :data:`HBM_BANDWIDTH_PER_CHIP`."""
  return HBM_BANDWIDTH_PER_CHIP.get(device_kind)


def hbm_bytes_per_chip(device_kind: str) -> Optional[int]:
  """Device memory (bytes) of one ``device_kind`` chip (module docstring), or None when the
  chip is not in :data:`HBM_BYTES_PER_CHIP`."""
  return HBM_BYTES_PER_CHIP.get(device_kind)


def peak_flops_per_chip(device_kind: str, compute_dtype: str) -> Optional[float]:
  """Dense peak FLOP/s of one ``device_kind`` chip computing in ``compute_dtype``
  ('bfloat16' or 'float32', see the module docstring), or None when the chip is not in
  :data:`PEAK_FLOPS_PER_CHIP`. Raises ValueError for another dtype."""
  if compute_dtype not in COMPUTE_DTYPES:
    raise ValueError(f"compute dtype must be one of {COMPUTE_DTYPES}, got {compute_dtype!r}")
  peaks = PEAK_FLOPS_PER_CHIP.get(device_kind)
  return None if peaks is None else peaks[compute_dtype]
