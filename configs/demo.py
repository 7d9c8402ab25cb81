r"""Demo: a narrow STARnet trained from scratch on the embedded dataset (generated on first
use from scikit-image's sample photographs with synthetic camera and object motion), on
CPU; reports held-out PSNR of every output next to its own baseline (plain bicubic for
h1/h2, bicubic + frame average for ht, the LR frames' average for l), SSIM of ht, and the
checkerboard measure (``grid_energy_ratio``: ~1 = no grid beyond bicubic's).

  python -m star_jax.main --config=configs/demo.py --workdir=workdir/demo

(``make demo`` runs exactly this, then ``star_jax.showcase`` on the result.) The
dataset and its flow cache go to ``data.dir`` (default ``workdir/demo_data``); the final
weights to ``<workdir>/model``.

Choices, each measured on this 2-core machine (benchmarks/results/training_cpu.md): widths 16/8 and one
residual block; 16-px LR patches in batches of 4 (the eval uses whole 40x32 frames; 24- or
32-px patches in smaller batches learn less per step at the same cost); Adam 1e-3 instead
of the paper's Adamax 1e-4 (after 300 steps ht 20.7 dB vs 20.3 for Adamax 3e-3, 19.8 for
Adamax 1e-3), lr x0.2 after 10 epochs (800 steps); Kaiming init with gain 0.5 (the release's
gain 1 makes a from-scratch model's outputs start at std ~10^3), except gain 25 on the first
conv of the flow branch (``motion_feat``): the network's flow inputs are -px/150, about 0.02
here, and at gain 0.5 the flow branch stays near silent for the demo's 1000 steps. Zeroing
the flows costs the trained demo model 0.92 dB on ht; trained without the gain (and without
the decay) it loses only 0.47 dB (``benchmarks/archive/demo_diagnostics.py --weights``).

Not the release's network (``convert to-torch`` refuses the result): the outputs are
predicted over bicubic (``model.residual_bicubic``), and the transposed convolutions start
checkerboard-free (``init_transposed='icnr'``). After 200 steps (benchmarks/results/training_cpu.md,
"Session 3") the release form was 4.4 dB below bicubic on h1 with a grid measure of 9.2 on
ht; over bicubic h1 is +0.45 dB above it, ht +0.20 dB above bicubic + average, grid 1.3.
After the 1000 steps: h1 +1.01 dB, ht +2.41 dB, grid 1.14 on ht.
"""

from star_jax.train.config import base_config


def get_config():
  c = base_config()
  c.model.variant = "V4"
  c.model.base_filter = 16
  c.model.feat = 8
  c.model.n_resblock = 1
  c.model.residual_bicubic = True
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
  c.init_transposed = "icnr"
  c.total_steps = 1000
  c.lr_decay_every_epochs = 10  # 80 steps per epoch: x0.2 from step 800
  c.lr_decay_factor = 0.2
  c.log_every_steps = 50
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 250
  c.keep_checkpoints = 2
  return c
