"""The shared defaults of every experiment config in ``configs/`` (which override them).

Fields tests and launch scripts rely on: ``seed``, ``total_steps`` (overrides epochs when
set), ``checkpoint_every_steps``, ``eval_every_steps``, ``mesh_shape`` (``(data, model)`` or
``(data, model, space)``, space splitting image heights, ``star_jax.train.sharding``;
-1 = all remaining devices), ``data.dir``, ``model.variant``.

Performance reporting (``star_jax.train.throughput``): at start the trainer logs the compiled
step's FLOPs and peak memory per device; every ``log_every_steps`` it logs steps/s,
samples/s, achieved TFLOP/s, MFU and the ETA. ``peak_flops_per_chip`` (FLOP/s of one device)
overrides the chip table in ``star_jax.train.chip_peaks`` (needed for MFU on CPUs and
unlisted chips). ``profile_steps = (first_step, num_steps)`` writes a ``jax.profiler`` trace
of those steps to ``<workdir>/profile`` (README, "Profiles").

``require_accelerator``: ``star_jax.main`` refuses to train on the CPU (``star_jax.accelerators``).

Impossible combinations (e.g. ``objective='STAR-T-HR'`` without ``data.hr_input``) are
refused before anything runs, by ``star_jax.train.config_checks.validate``; the workdir and
the data (empty splits, frame sizes against ``data.patch_size`` and whole-frame batches) by
``star_jax.train.preflight``. On resume ``data.num_workers``, ``model.remat``,
``model.dtype``, ``batch_size`` and the step counts may change (the trainer says what moves).

Failures (README, "Preemption, restarts and failures"): SIGTERM/SIGINT save the step reached
(``star_jax.train.preemption``); under jax.distributed a process silent for
``lost_process_timeout_seconds`` is lost and the others stop (``star_jax.train.peers``).
"""

import copy

import ml_collections

from star_jax.model import ModelConfig

TrainConfig = ml_collections.ConfigDict  # the training config's type (base_config, configs/)


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  # The released STARnet: ModelConfig's fields and defaults (documented there) as a
  # ConfigDict, so --config.model.x=y overrides them; the trainer hands it to the model layer
  # as ModelConfig.from_mapping(config.model).
  c.model = ml_collections.ConfigDict(ModelConfig().to_dict())

  c.data = ml_collections.ConfigDict()
  c.data.dir = ml_collections.FieldReference(None, field_type=str)  # Vimeo-layout root
  c.data.source = "folder"             # 'folder' (PNG frames) or 'tfds' (ArrayRecord)
  c.data.tfds_data_dir = ml_collections.FieldReference(None, field_type=str)
  c.data.tfds_config = "triplet"       # 'triplet_x4' also stores the LR frames (faster)
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.clips = "triplet"             # or 'septuplet_triplets': frames i..i+2 of septuplets
  c.data.lr_method = "pil"             # LR frames: the release's PIL bicubic, or 'matlab'
  c.data.patch_size = 0                # LR pixels; 0 = whole frame (the paper's STAR)
  c.data.augment = True
  c.data.hr_input = False              # STAR-T-HR: HR frames in, flows on HR frames
  c.data.flow_backend = "coarse2fine"  # or opencv_dis / opencv_farneback (see star_jax.flow)
  c.data.flow_mode = "exact"           # coarse2fine solver: 'exact' (= pyflow) or 'fast'
  # Flow cache folder; None = <data.dir>/flow_cache/<backend>_x<scale>[_<settings digest>]
  # (star_jax.data.flow_cache: other flow settings get a folder of their own).
  c.data.flow_cache_dir = ml_collections.FieldReference(None, field_type=str)
  c.data.num_workers = 0
  c.data.num_threads = 2
  c.data.skip_corrupt = False          # True: skip (and count) clips whose frames or cached
                                       # flows are unreadable or hold NaN/Inf
  c.data.generate_demo = False         # build the embedded demo dataset in data.dir

  c.batch_size = 10                    # global, split over the mesh's 'data' axis
  c.eval_batch_size = 10
  c.eval_num_batches = ml_collections.FieldReference(None, field_type=int)  # None = whole split

  c.objective = "STAR"                 # STAR, STAR-ST, STAR-S, STAR-T-LR, STAR-T-HR
  c.loss = "Lr"                        # 'Lr' (pixel + 0.1 flow) or 'Lf' (+ 0.1 perceptual)
  c.vgg19_weights = ml_collections.FieldReference(None, field_type=str)  # torchvision .pth

  c.optimizer = ml_collections.ConfigDict(dict(  # name: 'adamax' (the paper) or 'adam'
      name="adamax", learning_rate=1e-4, b1=0.9, b2=0.999, eps=1e-8))
  c.num_epochs = 70
  c.lr_decay_every_epochs = 30
  c.lr_decay_factor = 0.1
  c.total_steps = ml_collections.FieldReference(None, field_type=int)

  c.init_from = ml_collections.FieldReference(None, field_type=str)  # .pth or our checkpoint
  c.init_kernel_scale = 1.0            # gain on the release's Kaiming init (fresh runs only)
  c.init_kernel_gains = ()             # ((regex on the '/'-joined kernel path, gain), ...)
  c.init_transposed = "kaiming"        # or 'icnr': transposed convs start checkerboard-free

  # True: refuse to train on the CPU (star_jax.main stops with one error: line naming the
  # platform found and the likely cause, e.g. a CPU-only jaxlib on a GPU node). The paper
  # configs (star*.py) and the launch scripts set it; demo.py (a CPU run) does not.
  c.require_accelerator = False
  c.mesh_shape = (-1, 1)               # ('data', 'model'[, 'space']); 'space' splits heights
  # FSDP-style parameter sharding: (regex on the '/'-joined param path, PartitionSpec
  # entries). Unmatched parameters are replicated. Example:
  #   (('.*kernel', (None, None, None, 'model')),)  shards output channels over 'model'.
  c.param_sharding = ()
  # ZeRO stage 1: the optimiser state (Adamax moments, 2x the parameters' bytes) split over
  # the data-parallel axes ('data' x 'space'; nothing to split when that is 1); the
  # parameters stay as param_sharding places them (star_jax.train.sharding.zero1_shardings).
  c.shard_optimizer_state = False

  c.log_every_steps = 50
  c.peak_flops_per_chip = ml_collections.FieldReference(None, field_type=float)  # FLOP/s
  c.profile_steps = ()                 # (first_step, num_steps): jax.profiler trace
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 3
  c.halt_on_nonfinite = True
  # Under jax.distributed: a process silent this long is lost; the others exit with one
  # line naming it (status 1). JAX's own heartbeat timeout is twice this
  # (star_jax.train.peers).
  c.lost_process_timeout_seconds = 30
  return c


def finetune_config(objective: str) -> ml_collections.ConfigDict:
  """:func:`base_config` for fine-tuning STAR into ``objective`` ('STAR-ST', 'STAR-S',
  'STAR-T-LR' or 'STAR-T-HR'; checked with the rest by ``config_checks.validate``) on
  accelerators (``require_accelerator``): the paper's 20 more epochs at 1e-4, lr / 10 every
  10 epochs (../shared/spec/starnet-data-and-training.md, "Optimisation")."""
  c = base_config()
  c.require_accelerator = True
  c.objective = objective
  c.num_epochs = 20
  c.lr_decay_every_epochs = 10
  return c


def with_fields(config, **overrides):
  """A copy of ``config`` with dotted fields set (``{'model.dtype': 'bfloat16'}``)."""
  changed = copy.deepcopy(config)
  with changed.unlocked():
    for dotted, value in overrides.items():
      node = changed
      *parents, leaf = dotted.split(".")
      for name in parents:
        node = node[name]
      node[leaf] = value
  return changed
