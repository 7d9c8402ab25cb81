r"""Demo: a narrow STARnet trained from scratch on the embedded dataset (generated on first
use from scikit-image's sample photographs with synthetic camera and object motion), on
CPU; reports held-out PSNR/SSIM of every output and, for the in-between frame, the PSNR of
bicubic upscaling + frame averaging as the baseline.

  python -m star_jax.main --config=configs/demo.py --workdir=workdir/demo

(``make demo`` runs exactly this, then ``star_jax.infer.showcase`` on the result.) The
dataset and its flow cache go to ``data.dir`` (default ``workdir/demo_data``); the final
weights to ``<workdir>/model``.

Choices: widths 16/8 and one residual block, 16-px LR patches (the eval uses whole 40x32
frames), Adamax 1e-3 and Kaiming init with gain 0.5 (the release's gain 1 makes a
from-scratch model's outputs start at std ~10^3). Measured on the shared 2-core machine
(benchmarks/RESULTS.md): ht PSNR 19.1 / 20.2 / 20.7 / 20.9 / 21.0 / 21.2 dB after
200 / 400 / 600 / 800 / 1000 / 1200 steps against a 21.7 dB baseline.
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
  c.optimizer.learning_rate = 1e-3
  c.init_kernel_scale = 0.5
  c.total_steps = 1000
  c.lr_decay_every_epochs = 1000  # no decay within the demo's steps
  c.log_every_steps = 50
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 250
  c.keep_checkpoints = 2
  return c
