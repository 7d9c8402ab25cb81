r"""STAR trained on Vimeo-90K septuplets, as the space-time SR papers after STARnet train
(Zooming Slow-Mo, TMNet, RSTT): the septuplet train list (64,612 clips), each septuplet giving
the five triplets of consecutive frames (i, i+1, i+2), i = 1..5: LR frames i and i+2 in, HR
frames i, i+1, i+2 and LR frame i+1 as targets (``data.clips='septuplet_triplets'``); LR
frames made by MATLAB's antialiased bicubic ``imresize`` (``data.lr_method='matlab'``), as the
field's LR septuplets are and as ``star-jax-evaluate --protocol stvsr`` makes its inputs.
Otherwise the paper's STAR: V4 with flow refinement, STAR objective, L_r loss (see
configs/star.py for the release's L_f), Adamax 1e-4, batch 10, whole 112x64 LR frames.

  python -m star_jax.main --config=configs/star_septuplet.py --workdir=/tmp/star_sep \
      --config.data.dir=/data/vimeo_septuplet

``data.dir`` is the unpacked ``vimeo_septuplet.zip`` (``sequences/``, ``sep_trainlist.txt``,
``sep_testlist.txt``). Its flows are cached on first use in
``<data.dir>/flow_cache/coarse2fine_x4_matlab`` (six flows per triplet, 323,060 training
triplets plus 39,120 held-out ones: the costliest step; ``--config.data.flow_mode=fast`` or an
OpenCV backend is far cheaper, ``data.flow_backend``). Then score the result in the peers'
table with ``python -m star_jax.evaluate --protocol stvsr --weights /tmp/star_sep/model
--vimeo-dir /data/vimeo_septuplet --vid4-dir /data/Vid4`` (README, "Reproduce and compare").

Length: the same number of samples as the paper's 70 epochs over the 51,313 triplets
(3.59 M): 11 epochs of 323,060 triplets (3.55 M), the learning rate / 10 every 5 epochs (1.62 M
samples, the paper's 30 epochs are 1.54 M). Held-out evaluation reads 40 batches of the
septuplet test list's triplets (the whole list is 39,120 triplets).
"""

from star_jax.train.config import base_config


def get_config():
  c = base_config()
  c.data.clips = "septuplet_triplets"
  c.data.lr_method = "matlab"
  c.num_epochs = 11
  c.lr_decay_every_epochs = 5
  c.eval_num_batches = 40
  return c
