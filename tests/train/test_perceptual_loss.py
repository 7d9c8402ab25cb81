"""``loss='Lf'`` is the release's training loss: ``l_mse + 0.1 * l_feat`` of main.py, where
``l_feat`` is the MSE of torchvision VGG19 ``features[:36]`` (relu5_4, applied to the
normalised images as they are) of each stage against the target's, staged 0.4 / 1.0 and
weighted per output like the pixel term (main.py:74-86, ``feat_loss_calc``).

The reference side restates main.py's formula in PyTorch on our torch VGG19 with torchvision's
layer indices and random He-normal weights (torchvision is not a dependency; its pretrained
file has the same keys); the JAX side is ``objectives.star_loss`` with those weights converted
by ``star_jax.convert.vgg``, as the trainer loads ``config.vgg19_weights``."""

import jax
import jax.numpy as jnp
import numpy as np
import torch

from star_jax.convert.vgg import load_vgg19_variables
from star_jax.model.vgg import VGG19Features
from star_jax.train import objectives
from starnet_torch import VGG19Features as TorchVGG19Features

SCALE, LR = 4, 16  # relu5_4 is 1/16 of the input: LR 16x16 -> 1x1, HR 64x64 -> 4x4
TARGETS = {"ht": "hr_t", "h1": "hr1", "h2": "hr2", "l": "lr_t"}


def _release_loss(vgg, preds, targets):
  """main.py: mse_loss_calc / feat_loss_calc (w_begin 0.4, w_interval 0.6), outputs
  ht + 0.5 h1 + 0.5 h2 + l, ``loss = l_mse + 0.1 * l_feat``; NCHW tensors."""
  l1, mse = torch.nn.L1Loss(), torch.nn.MSELoss()

  def staged(pred, target, loss):
    weight, total = 0.4, 0.0
    for stage in pred:
      total = total + weight * loss(stage, target)
      weight += 0.6
    return total

  def feat(stage, target):
    return mse(vgg(stage), vgg(target).detach())

  weights = {"ht": 1.0, "h1": 0.5, "h2": 0.5, "l": 1.0}
  l_mse = sum(w * staged(preds[o], targets[TARGETS[o]], l1) for o, w in weights.items())
  l_feat = sum(w * staged(preds[o], targets[TARGETS[o]], feat) for o, w in weights.items())
  return l_mse, l_feat, l_mse + 0.1 * l_feat


def test_lf_is_release_pixel_plus_tenth_of_vgg19_relu5_4_mse(tmp_path):
  torch.manual_seed(0)
  vgg = TorchVGG19Features().eval()
  with torch.no_grad():  # He-normal keeps the signal alive to relu5_4 (see tests/convert)
    for module in vgg.features:
      if isinstance(module, torch.nn.Conv2d):
        torch.nn.init.kaiming_normal_(module.weight)
        module.bias.normal_(0.0, 0.05)
  weights_file = tmp_path / "vgg19.pth"  # the file config.vgg19_weights names
  torch.save(vgg.state_dict(), weights_file)

  rng = np.random.default_rng(0)
  sides = {"hr_t": LR * SCALE, "hr1": LR * SCALE, "hr2": LR * SCALE, "lr_t": LR}
  targets = {k: rng.normal(size=(1, 3, s, s)).astype(np.float32) for k, s in sides.items()}
  preds = {o: [rng.normal(size=targets[t].shape).astype(np.float32) for _ in range(2)]
           for o, t in TARGETS.items()}

  torch_preds = {o: [torch.tensor(p, requires_grad=True) for p in ps] for o, ps in preds.items()}
  l_mse, l_feat, total = _release_loss(vgg, torch_preds, {k: torch.tensor(v)
                                                         for k, v in targets.items()})
  total.backward()
  l_mse, l_feat, total = (float(x.detach()) for x in (l_mse, l_feat, total))
  assert l_feat > 0.01  # features far from flat: the term is compared

  nhwc = lambda x: jnp.asarray(np.transpose(x, (0, 2, 3, 1)))
  vgg_variables = load_vgg19_variables(weights_file)
  features = lambda images: VGG19Features().apply(vgg_variables, images)
  batch = {k: nhwc(v) for k, v in targets.items()}

  def loss(outputs):
    terms = objectives.star_loss(outputs, batch, "STAR", "Lf", features)
    return terms["total"], terms

  outputs = {o: tuple(nhwc(p) for p in ps) for o, ps in preds.items()}
  (value, terms), grads = jax.value_and_grad(loss, has_aux=True)(outputs)
  np.testing.assert_allclose(float(terms["pixel"]), l_mse, rtol=1e-5)
  np.testing.assert_allclose(float(terms["perceptual"]), l_feat, rtol=1e-5)
  np.testing.assert_allclose(float(value), total, rtol=1e-5)
  for o, stages in torch_preds.items():
    for stage, ours in zip(stages, grads[o]):
      want = stage.grad.numpy().transpose(0, 2, 3, 1)
      error = np.max(np.abs(np.asarray(ours) - want)) / np.max(np.abs(want))
      assert error <= 1e-4, (o, error)
