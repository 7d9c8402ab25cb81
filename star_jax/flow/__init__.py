"""Optical flow for STARnet.

* ``compute_flow(im1, im2, backend='coarse2fine', **params)``: pixel flows from any backend
  (pyflow's coarse-to-fine method in JAX by default; OpenCV DIS / Farneback for speed);
  ``FlowSettings(backend, params)``: one backend with all its settings, as one value.
* ``coarse2fine_flow``: the JAX method itself, also returning the bicubically warped im2.
* ``to_network_input`` / ``fr_targets``: the release's network convention and FR targets.
* ``star_jax.flow.transforms``: training flips/rotation for flow fields.

The per-dataset flow cache is ``star_jax.data.flow_cache``.
"""

from star_jax.flow.backends import BACKENDS, FlowSettings, compute_flow
from star_jax.flow.coarse2fine import Coarse2FineParams, Coarse2FineResult, coarse2fine_flow
from star_jax.flow.network_input import fr_targets, to_network_input

__all__ = ["BACKENDS", "Coarse2FineParams", "FlowSettings", "Coarse2FineResult", "coarse2fine_flow",
           "compute_flow", "fr_targets", "to_network_input"]
