"""One train step and one held-out evaluation in this process (after flax's examples'
``train_test.py``), and the TensorBoard hparams. The CLI end to end (resume, multi-process,
divergence) is test_main.py."""

import importlib.util
import math

from star_jax.train import checkpoints, trainer
from tests.train.conftest import REPO


def _tiny_demo_config(data_dir):
  spec = importlib.util.spec_from_file_location("demo_config", REPO / "configs" / "demo.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  config.model.update(variant="V3", base_filter=8, feat=4, n_resblock=1)
  config.data.update(dir=str(data_dir), flow_backend="opencv_dis", generate_demo=False,
                     patch_size=8)
  config.update(batch_size=4, eval_batch_size=4, eval_num_batches=1, total_steps=1,
                log_every_steps=1)
  return config


def test_one_train_and_eval_step_in_process(tiny_dataset, tmp_path):
  result = trainer.train_and_evaluate(_tiny_demo_config(tiny_dataset), str(tmp_path))
  assert result.step == 1
  assert result.eval_metrics["eval/num_samples"] == 4
  for name in ("ht", "h1", "h2", "l"):
    for key in (f"eval/psnr_{name}", f"eval/psnr_{name}_baseline"):
      assert math.isfinite(result.eval_metrics[key]) and result.eval_metrics[key] > 0, key
  assert 0 < result.eval_metrics["eval/ssim_ht"] <= 1
  assert (tmp_path / trainer.EXPORT_DIR / "model_config.json").is_file()
  assert (tmp_path / checkpoints.CHECKPOINT_DIR / "1").is_dir()


def test_hparams_hold_the_nested_fields():
  config = _tiny_demo_config("/data/x")
  hparams = trainer.hparams(config)
  assert hparams["model.variant"] == "V3" and hparams["data.dir"] == "/data/x"
  assert hparams["optimizer.learning_rate"] == "0.001" and hparams["batch_size"] == "4"
  assert hparams["init_kernel_gains"] == "(('motion_feat/conv/kernel', 25.0),)"
  assert not any(isinstance(value, dict) for value in hparams.values())
