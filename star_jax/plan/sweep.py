"""``--sweep``: per compute dtype and remat mode, the largest per-chip batch whose train step
fits a chip, and, at one sample per chip, the largest square LR crop that fits.

Each probe is a full compile of the train step (``planner.plan_step``); the search doubles
until a probe does not fit, then bisects, so a sweep costs about 2 log2(answer) compiles per
(dtype, remat). Crops are multiples of :data:`CROP_STEP` LR pixels up to :data:`MAX_CROP`.
"""

from typing import Any, Callable, Dict, List, Optional, Sequence

from star_jax.model import COMPUTE_DTYPES
from star_jax.model.remat import REMAT_MODES
from star_jax.plan import planner
from star_jax.train import chip_peaks, sharding
from star_jax.train import config as config_lib

CROP_STEP = 16
MAX_CROP = 1024
MAX_BATCH_PER_CHIP = 4096


def largest_fitting(fits: Callable[[int], bool], start: int, limit: int) -> int:
  """The largest n in [start, limit] with ``fits(n)`` for a ``fits`` that is monotone
  (true up to some n, false after), by doubling from ``start`` then bisecting; 0 when
  ``fits(start)`` is false."""
  if not fits(start):
    return 0
  good, bad = start, None
  while bad is None:
    trial = min(2 * good, limit)
    if trial == good:
      return good
    if fits(trial):
      good = trial
    else:
      bad = trial
  while bad - good > 1:
    middle = (good + bad) // 2
    if fits(middle):
      good = middle
    else:
      bad = middle
  return good


def sweep(config, devices, dtypes: Sequence[str] = COMPUTE_DTYPES,
          remats: Sequence[str] = REMAT_MODES, log_path: Optional[str] = None,
          progress: Callable[[str], None] = lambda line: None) -> List[Dict[str, Any]]:
  """[{'compute_dtype', 'remat', 'max_batch_per_chip', 'max_crop_at_batch_1' (LR pixels,
  square, a multiple of CROP_STEP; null when even CROP_STEP does not fit), 'compiles'}] for
  every (dtype, remat); ``progress`` gets one line per probe. The chip must have a listed
  HBM size (``train.chip_peaks``). Raises ValueError otherwise, or for a config that cannot
  run on ``devices`` (``planner.check_config``)."""
  planner.check_config(config, devices)
  if chip_peaks.hbm_bytes_per_chip(devices[0].device_kind) is None:
    raise ValueError(f"--sweep needs the HBM size of {devices[0].device_kind!r} "
                     "(star_jax.train.chip_peaks.HBM_BYTES_PER_CHIP)")
  data_axis = sharding.mesh_axis_sizes(config.mesh_shape, len(devices))[0]
  results = []
  for dtype in dtypes:
    for remat in remats:
      compiles = 0

      def probe(**fields) -> bool:
        nonlocal compiles
        compiles += 1
        candidate = config_lib.with_fields(config, **{"model.dtype": dtype, "model.remat": remat},
                                        **fields)
        step = planner.plan_step("train", candidate, devices, log_path=log_path,
                                 model_flops=False)
        progress(f"{dtype}/{remat} {fields}: peak {step.peak_bytes_per_chip / 2**30:.2f} "
                 f"GiB per chip, {'fits' if step.fits else 'does not fit'}")
        return bool(step.fits)

      max_batch = largest_fitting(
          lambda per_chip: probe(batch_size=per_chip * data_axis), 1, MAX_BATCH_PER_CHIP)
      crop_steps = largest_fitting(
          lambda steps: probe(batch_size=data_axis, **{"data.patch_size": steps * CROP_STEP}),
          1, MAX_CROP // CROP_STEP)
      results.append({"compute_dtype": dtype, "remat": remat,
                      "max_batch_per_chip": max_batch,
                      "max_crop_at_batch_1": crop_steps * CROP_STEP or None,
                      "compiles": compiles})
  return results
