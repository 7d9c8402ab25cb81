r"""STAR-T-LR: fine-tune STAR for time-only SR at low resolution (objective l), 20 epochs,
lr /10 every 10.

  python -m star_jax.main --config=configs/star_t_lr.py --workdir=/tmp/star_t_lr \
      --config.data.dir=/data/vimeo_triplet --config.init_from=STAR.pth

Meant for GPUs/TPUs: ``require_accelerator`` refuses the CPU (add
``--config.require_accelerator=False`` to try it on one; ``--dry_run`` checks the command).
Loss: ``Lr`` (the paper's tables); the release's scripts train ``Lf`` (see configs/star.py).
"""

from star_jax.train.config import finetune_config


def get_config():
  return finetune_config("STAR-T-LR")
