"""One flow interface for data, training and inference: ``compute_flow(im1, im2, backend)``.

* ``coarse2fine`` (default): the release's method (pyflow) reimplemented in JAX; parameters
  are those of ``Coarse2FineParams`` (``mode='exact'`` or ``'fast'``, ``alpha``, ...).
* ``opencv_dis`` / ``opencv_farneback``: OpenCV's DIS and Farneback flows on the grey frames,
  much faster on CPU, for when fidelity to the release does not matter.

Every backend returns pixels in the spec's convention: im2(x + u, y + v) ~ im1(x, y), channel 0
= u (right positive), channel 1 = v (down positive), which is also OpenCV's convention.
"""

import dataclasses
import hashlib
import json
from typing import Any, Callable, Dict, Mapping

import cv2
import numpy as np

from star_jax.errors import UserInputError
from star_jax.flow.coarse2fine import Coarse2FineParams, coarse2fine_flow

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# OpenCV's documented example settings for Farneback.
FARNEBACK_DEFAULTS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                          poly_sigma=1.2, flags=0)


def _grey_uint8(image: np.ndarray) -> np.ndarray:
  """(H, W), (H, W, 1) or (H, W, 3) RGB float in [0, 1] -> (H, W) uint8 luminance."""
  scaled = np.clip(np.rint(np.asarray(image, np.float32) * 255), 0, 255).astype(np.uint8)
  if scaled.ndim == 3 and scaled.shape[-1] == 3:
    return cv2.cvtColor(scaled, cv2.COLOR_RGB2GRAY)
  if scaled.ndim == 3 and scaled.shape[-1] == 1:
    return scaled[..., 0]
  if scaled.ndim == 2:
    return scaled
  raise ValueError(f"OpenCV flow backends take grey or RGB frames; got shape {image.shape}")


def _per_pair(flow_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]):
  """Lift a single-pair OpenCV flow to (H, W, C) or batched (B, H, W, C) inputs."""
  def batched(im1, im2):
    im1, im2 = np.asarray(im1), np.asarray(im2)
    if im1.ndim == 4:
      return np.stack([flow_fn(_grey_uint8(a), _grey_uint8(b)) for a, b in zip(im1, im2)])
    return flow_fn(_grey_uint8(im1), _grey_uint8(im2))
  return batched


def _opencv_dis(im1, im2, preset: str) -> np.ndarray:
  dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
  return _per_pair(lambda a, b: dis.calc(a, b, None))(im1, im2)


def _opencv_farneback(im1, im2, **p) -> np.ndarray:
  return _per_pair(lambda a, b: cv2.calcOpticalFlowFarneback(
      a, b, None, p["pyr_scale"], p["levels"], p["winsize"], p["iterations"], p["poly_n"],
      p["poly_sigma"], p["flags"]))(im1, im2)


def _coarse2fine(im1, im2, **params) -> np.ndarray:
  return np.asarray(coarse2fine_flow(im1, im2, **params).flow)


BACKENDS: Dict[str, Callable[..., np.ndarray]] = {
    "coarse2fine": _coarse2fine,
    "opencv_dis": _opencv_dis,
    "opencv_farneback": _opencv_farneback,
}


def resolved_params(backend: str, params: Dict) -> Dict:
  """``params`` with every default filled in, so that two spellings of the same settings
  (``{}`` and ``{'mode': 'exact'}``) compare equal, e.g. in a flow cache's record.

  Raises:
    ValueError: an unknown backend, an unknown setting, or a value the backend refuses.
  """
  if backend == "coarse2fine":
    return dataclasses.asdict(Coarse2FineParams(**params))
  if backend == "opencv_dis":
    unknown = sorted(set(params) - {"preset"})
    if unknown:
      raise UserInputError(f"unknown opencv_dis parameters {unknown}; known: ['preset']")
    preset = params.get("preset", "medium")
    if preset not in DIS_PRESETS:
      raise UserInputError(f"preset={preset!r} is not one of {sorted(DIS_PRESETS)}")
    return {"preset": preset}
  if backend == "opencv_farneback":
    unknown = sorted(set(params) - set(FARNEBACK_DEFAULTS))
    if unknown:
      raise UserInputError(f"unknown Farneback parameters {unknown}; "
                           f"known: {sorted(FARNEBACK_DEFAULTS)}")
    return {**FARNEBACK_DEFAULTS, **params}
  raise UserInputError(f"backend={backend!r} is not one of {sorted(BACKENDS)}")


@dataclasses.dataclass(frozen=True)
class FlowSettings:
  """One flow backend and all of its settings: what a flow cache is computed with and keyed by.

  Attributes:
    backend: a key of ``BACKENDS``.
    params: the backend's settings; every default is filled in at construction
      (:func:`resolved_params`), so ``FlowSettings('coarse2fine')`` equals
      ``FlowSettings('coarse2fine', {'mode': 'exact'})``. Read-only by convention.

  Raises:
    ValueError: an unknown backend, or a setting the backend does not take or accept.
  """

  backend: str = "coarse2fine"
  params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    object.__setattr__(self, "params", resolved_params(self.backend, dict(self.params)))

  def __hash__(self) -> int:
    return hash(self.digest)

  @property
  def record(self) -> Dict[str, Any]:
    """``{'backend': ..., 'params': {...}}`` as JSON-compatible values (a cache's record)."""
    return json.loads(json.dumps({"backend": self.backend, "params": dict(self.params)}))

  @property
  def digest(self) -> str:
    """8 hex digits of SHA-256 over :attr:`record` (sorted keys): stable across runs,
    processes and machines, different for any other backend or setting."""
    text = json.dumps(self.record, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]

  @property
  def is_default(self) -> bool:
    """True when these are the backend's own default settings."""
    return self == FlowSettings(self.backend)

  def compute(self, im1, im2) -> np.ndarray:
    """:func:`compute_flow` with these settings."""
    return compute_flow(im1, im2, backend=self.backend, **self.params)


def compute_flow(im1, im2, backend: str = "coarse2fine", **params) -> np.ndarray:
  """Flow from ``im1`` to ``im2`` in pixels as a float32 NumPy array (..., H, W, 2).

  ``im1``, ``im2``: float arrays in [0, 1], (H, W, 3) for one pair or (B, H, W, 3) for a batch
  (grey (H, W, 1) works too). ``params`` go to the backend: ``Coarse2FineParams`` fields for
  coarse2fine, ``preset`` for opencv_dis, ``FARNEBACK_DEFAULTS`` keys for opencv_farneback.
  """
  if backend not in BACKENDS:
    raise UserInputError(f"backend={backend!r} is not one of {sorted(BACKENDS)}")
  if np.shape(im1) != np.shape(im2):
    raise ValueError(f"im1 has shape {np.shape(im1)} but im2 has shape {np.shape(im2)}")
  return np.asarray(BACKENDS[backend](im1, im2, **resolved_params(backend, params)), np.float32)
