r"""STAR (the paper's space-time model): V4 with flow refinement, STAR objective, Lr loss,
Vimeo-90K triplet train list at LR 112x64, batch 10, Adamax 1e-4, 70 epochs, lr /10 every 30.

  python -m star_jax.main --config=configs/star.py --workdir=/tmp/star \
      --config.data.dir=/data/vimeo_triplet

Flows are cached once beside the dataset on first use (``<data.dir>/flow_cache``).

Meant for GPUs/TPUs: ``require_accelerator`` refuses the CPU (add
``--config.require_accelerator=False`` to try it on one; ``--dry_run`` checks the command).
"""

from star_jax.train.config import base_config


def get_config():
  c = base_config()
  c.require_accelerator = True
  return c
