r"""STAR-T-HR: fine-tune STAR for time-only SR at the input resolution: HR frames in, flows
on HR frames, 48-px patches, the HR in-between frame as the target of ``l``; 20 epochs,
lr /10 every 10.

  python -m star_jax.main --config=configs/star_t_hr.py --workdir=/tmp/star_t_hr \
      --config.data.dir=/data/vimeo_triplet --config.init_from=STAR.pth

Meant for GPUs/TPUs: ``require_accelerator`` refuses the CPU (add
``--config.require_accelerator=False`` to try it on one; ``--dry_run`` checks the command).
Loss: ``Lr`` (the paper's tables); the release's scripts train ``Lf`` (see configs/star.py).
"""

from star_jax.train.config import finetune_config


def get_config():
  c = finetune_config("STAR-T-HR")
  c.data.hr_input = True
  c.data.patch_size = 48
  return c
