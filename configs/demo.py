r"""Demo: a narrow STARnet trained from scratch on the embedded dataset (generated on first
use from scikit-image's sample photographs with synthetic camera and object motion), on
CPU in a few minutes; reports held-out PSNR against bicubic upscaling + frame averaging.

  python -m star_jax.main --config=configs/demo.py --workdir=workdir/demo

(``make demo`` runs exactly this.) The dataset and its flow cache go to ``data.dir``
(default ``workdir/demo_data``).
"""

from star_jax.train.config import base_config


def get_config():
  c = base_config()
  c.model.variant = "V4"
  c.model.base_filter = 32
  c.model.feat = 16
  c.model.n_resblock = 2
  c.data.dir = "workdir/demo_data"
  c.data.generate_demo = True
  c.objective = "STAR"
  c.batch_size = 8
  c.eval_batch_size = 8
  c.optimizer.learning_rate = 1e-3
  c.total_steps = 600
  c.lr_decay_every_epochs = 1000  # no decay within the demo's steps
  c.log_every_steps = 25
  c.eval_every_steps = 300
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 2
  return c
