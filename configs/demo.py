r"""Demo: a narrow STARnet trained from scratch on the embedded dataset (generated on first
use from scikit-image's sample photographs with synthetic camera and object motion), on
CPU; reports held-out PSNR/SSIM of every output and, for the in-between frame, the PSNR of
bicubic upscaling + frame averaging as the baseline.

  python -m star_jax.main --config=configs/demo.py --workdir=workdir/demo

(``make demo`` runs exactly this, then ``star_jax.infer.showcase`` on the result.) The
dataset and its flow cache go to ``data.dir`` (default ``workdir/demo_data``); the final
weights to ``<workdir>/model``.

Choices, each measured on this 2-core machine (benchmarks/RESULTS.md): widths 16/8 and one
residual block; 16-px LR patches in batches of 4 (the eval uses whole 40x32 frames; 24- or
32-px patches in smaller batches learn less per step at the same cost); Adam 1e-3 instead
of the paper's Adamax 1e-4 (after 300 steps ht 20.7 dB vs 20.3 for Adamax 3e-3, 19.8 for
Adamax 1e-3), lr x0.2 after 10 epochs (800 steps); Kaiming init with gain 0.5 (the release's
gain 1 makes a from-scratch model's outputs start at std ~10^3), except gain 25 on the first
conv of the flow branch (``motion_feat``): the network's flow inputs are -px/150, about 0.02
here, and at gain 0.5 the flow branch stays near silent for the demo's 1000 steps. Zeroing
the flows costs the trained demo model 0.92 dB on ht; trained without the gain (and without
the decay) it loses only 0.47 dB (``benchmarks/demo_diagnostics.py --weights``).
"""

from star_jax.train.config import base_config


def get_config():
  c = base_config()
  c.model.variant = "V4"
  c.model.base_filter = 16
  c.model.feat = 8
  c.model.n_resblock = 1
  c.data.dir = "workdir/demo_data"
  c.data.generate_demo = True
  c.data.patch_size = 16
  c.objective = "STAR"
  c.batch_size = 4
  c.eval_batch_size = 8
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 1e-3
  c.init_kernel_scale = 0.5
  c.init_kernel_gains = (("motion_feat/conv/kernel", 25.0),)
  c.total_steps = 1000
  c.lr_decay_every_epochs = 10  # 80 steps per epoch: x0.2 from step 800
  c.lr_decay_factor = 0.2
  c.log_every_steps = 50
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 250
  c.keep_checkpoints = 2
  return c
