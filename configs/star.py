r"""STAR (the paper's space-time model): V4 with flow refinement, STAR objective, Lr loss,
Vimeo-90K triplet train list at LR 112x64, batch 10, Adamax 1e-4, 70 epochs, lr /10 every 30.

  python -m star_jax.main --config=configs/star.py --workdir=/tmp/star \
      --config.data.dir=/data/vimeo_triplet

Flows are cached once beside the dataset on first use (``<data.dir>/flow_cache``).

Meant for GPUs/TPUs: ``require_accelerator`` refuses the CPU (add
``--config.require_accelerator=False`` to try it on one; ``--dry_run`` checks the command).
Loss: ``loss='Lr'`` (pixel L1 + 0.1 x flow MSE) is the paper's L_r, the loss of the paper's
headline PSNR/SSIM numbers (STAR-ST L_r: Vimeo-90K 30.83 dB / 0.929). The release's training scripts
(main.py, main_refinement_flow.py, main_refinement_t_sr_hr.py) always add
``0.1 x`` the MSE of torchvision VGG19 ``features[:36]`` (relu5_4), the paper's L_f, with no
switch (main.py:80-86; its defaults load and save ``..._Lf_STAR`` / ``VGG_STAR_VIMEO``
weights). To train as the release's scripts do, add
``--config.loss=Lf --config.vgg19_weights=vgg19-dcbb9e9d.pth`` (torchvision's ImageNet file);
both losses are checked against the release's in tests/train (test_trainstep_parity,
test_perceptual_loss). The fine-tuning configs (star_st, star_s, star_t_lr, star_t_hr) take
the same two choices.
"""

from star_jax.train.config import base_config


def get_config():
  c = base_config()
  c.require_accelerator = True
  return c
