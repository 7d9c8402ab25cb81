"""``--sweep``: for the config's compute dtype and remat mode (or every pair), the largest
per-chip batch whose train step fits a chip, and, at one sample per chip, the largest square
LR crop that fits.

Each probe is a full compile of the train step (``planner.plan_step``: 10-40 min of one CPU
core at full width). The search (:func:`largest_fitting`) predicts the boundary from the
peaks already compiled, taking the peak as linear in the load (samples for the batch,
pixels for the crop: activations dominate), so a sweep costs at most four compiles per
answer when the peak is linear (and bisection after that) where doubling and bisection
would cost 2 log2(answer). Crops are multiples of
:data:`CROP_STEP` LR pixels up to :data:`MAX_CROP`.
"""

from typing import Any, Callable, Dict, List, Optional, Sequence

from star_jax.errors import UserInputError
from star_jax.model import COMPUTE_DTYPES
from star_jax.model.remat import REMAT_MODES
from star_jax.plan import planner
from star_jax.train import chip_peaks, sharding
from star_jax.train import config as config_lib

CROP_STEP = 16
MAX_CROP = 1024
MAX_BATCH_PER_CHIP = 4096
PREDICTED_PROBES = 4  # then bisection


def largest_fitting(peak: Callable[[int], float], budget: float, start: int, limit: int,
                    load: Callable[[int], float] = float) -> int:
  """The largest n in [start, limit] with ``peak(n) <= budget``, for a ``peak`` that grows
  with n; 0 when ``peak(start)`` is over the budget.

  Each next probe is where the line through the two probed points nearest the budget (or,
  after one probe, through the origin and that point: an underestimate whenever part of the
  peak does not grow with n) reaches ``budget``, in terms of ``load(n)`` (n for a batch,
  n**2 for a square crop), clamped strictly between the largest fitting and the smallest
  failing n known; from the fifth probe on, the midpoint (so a peak far from linear costs
  at most four probes more than bisection). Exact peaks linear in ``load`` take at most four
  probes (start, the line through the origin, the line through both, the n above it).

  Args:
    peak: bytes per chip of the step at n (one compile per call; called once per n).
    budget: bytes per chip available (the chip's HBM).
    start, limit: the range of n searched (ints, 1 <= start <= limit).
    load: what the peak is linear in, as a function of n (increasing).
  """
  seen: Dict[int, float] = {}
  good, bad = 0, limit + 1
  trial = start
  while bad - good > 1:
    seen[trial] = peak(trial)
    fits = seen[trial] <= budget
    if trial == start and not fits:
      return 0
    good, bad = (trial, bad) if fits else (good, trial)
    if len(seen) >= PREDICTED_PROBES:
      trial = (good + bad) // 2
    else:
      trial = _predicted(seen, good, bad, budget, load)
  return good


def _predicted(seen: Dict[int, float], good: int, bad: int, budget: float,
               load: Callable[[int], float]) -> int:
  """The n in (good, bad) where the line through the probed points nearest ``budget``
  reaches it (see :func:`largest_fitting`)."""
  (n1, p1), *rest = sorted(seen.items(), key=lambda item: abs(item[1] - budget))
  x1 = load(n1)
  x2, p2 = (load(rest[0][0]), rest[0][1]) if rest else (0.0, 0.0)
  lo, hi = good + 1, bad - 1
  if p1 == p2 or x1 == x2:
    return (lo + hi) // 2
  target = x1 + (budget - p1) * (x1 - x2) / (p1 - p2)
  while lo < hi:  # the largest n in [lo, hi] with load(n) <= target, else lo
    middle = (lo + hi + 1) // 2
    if load(middle) <= target:
      lo = middle
    else:
      hi = middle - 1
  return lo


def hbm_budget(devices) -> float:
  """The bytes of HBM per chip a sweep searches against (``train.chip_peaks``); raises
  UserInputError for a chip without a listed size (a sweep has nothing to compare with)."""
  hbm = chip_peaks.hbm_bytes_per_chip(devices[0].device_kind)
  if hbm is None:
    raise UserInputError(f"--sweep needs the HBM size of {devices[0].device_kind!r}, which "
                         "star_jax.train.chip_peaks does not list")
  return hbm


def sweep(config, devices, dtypes: Sequence[str] = COMPUTE_DTYPES,
          remats: Sequence[str] = REMAT_MODES, log_path: Optional[str] = None,
          progress: Callable[[str], None] = lambda line: None) -> List[Dict[str, Any]]:
  """[{'compute_dtype', 'remat', 'max_batch_per_chip', 'max_crop_at_batch_1' (LR pixels,
  square, a multiple of CROP_STEP; null when even CROP_STEP does not fit), 'compiles'}] for
  every (dtype, remat); ``progress`` gets one line per probe (and one per
  ``planner.HEARTBEAT_S`` while it compiles). The chip must have a listed HBM size
  (:func:`hbm_budget`, UserInputError otherwise). Raises ValueError for a config that cannot
  run on ``devices`` (``planner.check_config``)."""
  planner.check_config(config, devices, kinds=("train",))
  hbm = hbm_budget(devices)
  data_axis = sharding.mesh_axis_sizes(config.mesh_shape, len(devices))[0]
  results = []
  for dtype in dtypes:
    for remat in remats:
      compiles = 0

      def probe(**fields) -> float:
        nonlocal compiles
        compiles += 1
        candidate = config_lib.with_fields(config, **{"model.dtype": dtype, "model.remat": remat},
                                        **fields)
        step = planner.plan_step(
            "train", candidate, devices, log_path=log_path, model_flops=False,
            heartbeat=lambda seconds: progress(planner.still_compiling(
                f"{dtype}/{remat} {fields}", seconds)))
        progress(f"{dtype}/{remat} {fields}: peak {step.peak_bytes_per_chip / 2**30:.2f} "
                 f"GiB per chip, {'fits' if step.fits else 'does not fit'}")
        # A step XLA:TPU refuses for lack of HBM reports the bytes it needed.
        return step.peak_bytes_per_chip if step.fits else max(step.peak_bytes_per_chip,
                                                               hbm + 1)

      max_batch = largest_fitting(
          lambda per_chip: probe(batch_size=per_chip * data_axis), hbm, 1, MAX_BATCH_PER_CHIP)
      crop_steps = largest_fitting(
          lambda steps: probe(batch_size=data_axis, **{"data.patch_size": steps * CROP_STEP}),
          hbm, 1, MAX_CROP // CROP_STEP, load=lambda steps: float(steps * steps))
      results.append({"compute_dtype": dtype, "remat": remat,
                      "max_batch_per_chip": max_batch,
                      "max_crop_at_batch_1": crop_steps * CROP_STEP or None,
                      "compiles": compiles})
  return results
