r"""STAR-ST: fine-tune STAR for space-time SR (objective ht + 0.5 h1 + 0.5 h2), 20 epochs at
1e-4, lr /10 every 10. Start from STAR's weights: the ``<workdir>/model`` folder a STAR run
exports (``configs/star.py``; not ``<workdir>/checkpoints/<step>``, which holds the whole
train state) or a release .pth:

  python -m star_jax.main --config=configs/star_st.py --workdir=/tmp/star_st \
      --config.data.dir=/data/vimeo_triplet --config.init_from=/tmp/star/model

Meant for GPUs/TPUs: ``require_accelerator`` refuses the CPU (add
``--config.require_accelerator=False`` to try it on one; ``--dry_run`` checks the command).

Loss: ``Lr`` (the paper's tables); the release's scripts train ``Lf`` (see configs/star.py).
"""

from star_jax.train.config import finetune_config


def get_config():
  return finetune_config("STAR-ST")
