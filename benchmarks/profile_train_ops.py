"""Benchmark: the STARnet train step's op categories, JAX (XLA:CPU) vs PyTorch, per op.

Not a test. Each row is one layer shape of the full-width V1 model at LR 64x112 (x4, batch 1)
and one pass: ``fwd`` (forward only), ``dW`` (forward + weight gradient), ``dX`` (forward +
input gradient) or ``dW+dX`` (both, what a train step needs), each backward pulling a random
cotangent the size of the output. JAX runs the project's own
layers (``star_jax.model.layers``) jitted; PyTorch runs ``torch.nn`` functional ops on NCHW
tensors with ``torch.set_num_threads(--torch-threads)``. The two frameworks alternate call
by call in one process, so machine load hits both alike; wall (``perf_counter``) and CPU
(``process_time``) seconds are the medians of ``--repeats`` calls after one warm-up call.
``count`` is how many times the V1 train step's forward runs the layer, so ``count x
seconds`` says where a step's time goes. XLA fuses the element-wise ops (PReLU, LeakyReLU +
add, concatenation) into their neighbours inside a step, so their rows here are upper bounds
for JAX.

XLA flags are read once when JAX starts: compare flag settings by running the script once
per setting, e.g. ``XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type= python ...``.

    python -m benchmarks profile-ops --only conv3x3_64_hr,deconv_320_64
"""

import argparse
import os
import statistics
from typing import Dict, List

import numpy as np

from . import harness

LR = (64, 112)
HR = (256, 448)
# name -> (kind, c_in, c_out, kernel, stride, padding, spatial size of the input, count in a
# V1 train step's forward). Counts from star_jax/model/{star,rbpn}.py at V1, n_resblock 5:
# HR 64-ch 3x3 convs: RBPN res_feat2 11 x 2 frames, warp1/2 2 x 2 blocks, motion_down 3 blocks
# x 5 calls; LR 320-ch: interp_block + 4 motion_up calls, 5 blocks each; LR 256-ch: RBPN
# res_feat1 5 blocks x 2 frames + motion 2 blocks x 2 calls; DBPN-S per frame: 7 strided convs,
# 8 deconvs, 19 HR PReLUs; HR LeakyReLU (+ add): 38 in residual blocks, 4 back-projections.
OPS = {
    "conv3x3_64_hr": ("conv", 64, 64, 3, 1, 1, HR, 22 + 8 + 30),
    "conv3x3_320_lr": ("conv", 320, 320, 3, 1, 1, LR, 50),
    "conv3x3_256_lr": ("conv", 256, 256, 3, 1, 1, LR, 28),
    "conv8s4_64_128": ("conv", 64, 128, 8, 4, 2, HR, 2 + 5),
    "conv8s4_64_64": ("conv", 64, 64, 8, 4, 2, HR, 2 * 7),
    "deconv_320_64": ("deconv", 320, 64, 8, 4, 2, LR, 5),
    "deconv_256_64": ("deconv", 256, 64, 8, 4, 2, LR, 2),
    "deconv_64_64": ("deconv", 64, 64, 8, 4, 2, LR, 2 * 8),
    "prelu_64_hr": ("prelu", 64, 64, 0, 0, 0, HR, 2 * 19),
    "lrelu_add_64_hr": ("lrelu_add", 64, 64, 0, 0, 0, HR, 42),
    "concat_320_lr": ("concat", 320, 320, 0, 0, 0, LR, 5),
}
PASSES = ("fwd", "dW", "dX", "dW+dX")


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(OPS)}")
  parser.add_argument("--passes", default=",".join(PASSES),
                      help=f"comma-separated subset of {','.join(PASSES)}")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--torch-threads", type=int, default=2)
  args = parser.parse_args(argv)
  args.only = [o for o in args.only.split(",") if o] or list(OPS)
  args.passes = [p for p in args.passes.split(",") if p]
  if set(args.only) - set(OPS):
    parser.error(f"--only must name ops of {','.join(OPS)}, got {sorted(set(args.only) - set(OPS))}")
  if not args.passes or set(args.passes) - set(PASSES):
    parser.error(f"--passes must be a comma-separated subset of {','.join(PASSES)}")
  if args.repeats < 1:
    parser.error("--repeats must be at least 1")
  return args


def jax_fn(spec, grad_pass: str):
  """(jitted function, its arguments) for one op and pass in JAX, NHWC."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel

  from star_jax.model import layers  # pylint: disable=import-outside-toplevel

  kind, c_in, c_out, k, s, p, (h, w), _ = spec
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((1, h, w, c_in), np.float32))
  if kind in ("conv", "deconv"):
    module = (layers.conv2d(c_out, k, s, p) if kind == "conv"
              else layers.conv_transpose2d(c_out, k, s, p))
    params = module.init(jax.random.PRNGKey(0), x)
    apply = lambda params, x: module.apply(params, x)
  elif kind == "prelu":
    module = layers.PReLU()
    params = module.init(jax.random.PRNGKey(0), x)
    apply = lambda params, x: module.apply(params, x)
  elif kind == "lrelu_add":
    params = {"y": jnp.asarray(rng.standard_normal(x.shape, np.float32))}
    apply = lambda params, x: x + layers.leaky_relu(x - params["y"])
  else:  # concat of the 128 + 128 + 64 channel maps the interp/motion_up stacks take
    params = {"m": jnp.asarray(rng.standard_normal((1, h, w, 64), np.float32))}
    apply = lambda params, x: jnp.concatenate([x[..., :128], x[..., 128:256], params["m"]], -1)
  if grad_pass == "fwd":
    return jax.jit(apply), (params, x)
  cotangent = jnp.asarray(rng.standard_normal(jax.eval_shape(apply, params, x).shape, np.float32))

  def forward_backward(params, x, cotangent):
    # The output is returned too: a linear op's gradients do not need its forward, which XLA
    # would otherwise drop, while a train step always runs both.
    if grad_pass == "dW":
      out, vjp = jax.vjp(lambda params: apply(params, x), params)
    elif grad_pass == "dX":
      out, vjp = jax.vjp(lambda x: apply(params, x), x)
    else:
      out, vjp = jax.vjp(apply, params, x)
    return out, vjp(cotangent)

  return jax.jit(forward_backward), (params, x, cotangent)


def torch_fn(spec, grad_pass: str):
  """A closure running one op and pass in PyTorch, NCHW."""
  import torch  # pylint: disable=import-outside-toplevel
  import torch.nn.functional as F  # pylint: disable=import-outside-toplevel

  kind, c_in, c_out, k, s, p, (h, w), _ = spec
  torch.manual_seed(0)
  x = torch.randn(1, c_in, h, w)
  want_w = grad_pass in ("dW", "dW+dX")
  want_x = grad_pass in ("dX", "dW+dX")
  x.requires_grad_(want_x)
  if kind == "conv":
    weight, bias = torch.randn(c_out, c_in, k, k) * 0.05, torch.zeros(c_out)
    op = lambda x, weight, bias: F.conv2d(x, weight, bias, s, p)
  elif kind == "deconv":
    weight, bias = torch.randn(c_in, c_out, k, k) * 0.05, torch.zeros(c_out)
    op = lambda x, weight, bias: F.conv_transpose2d(x, weight, bias, s, p)
  elif kind == "prelu":
    weight, bias = torch.full((1,), 0.25), torch.zeros(1)
    op = lambda x, weight, bias: F.prelu(x, weight)
  elif kind == "lrelu_add":
    weight, bias = torch.randn(1, c_in, h, w), torch.zeros(1)
    op = lambda x, weight, bias: x + F.leaky_relu(x - weight, 0.1)
  else:
    weight, bias = torch.randn(1, 64, h, w), torch.zeros(1)
    op = lambda x, weight, bias: torch.cat([x[:, :128], x[:, 128:256], weight], 1)
  weight.requires_grad_(want_w)
  bias.requires_grad_(want_w)

  cotangent = None

  def run():
    nonlocal cotangent
    if grad_pass == "fwd":
      with torch.no_grad():
        op(x, weight, bias)
      return
    x.grad = weight.grad = bias.grad = None
    out = op(x, weight, bias)
    if cotangent is None:
      cotangent = torch.randn(out.shape)
    out.backward(cotangent)

  return run


def main(argv=None) -> int:
  args = parse_args(argv)
  import jax  # pylint: disable=import-outside-toplevel
  import torch  # pylint: disable=import-outside-toplevel

  torch.set_num_threads(args.torch_threads)
  print(f"jax {jax.__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"torch threads {args.torch_threads}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, "
        f"load average at start {os.getloadavg()[0]:.1f}")
  rows: List[Dict] = []
  for name in args.only:
    spec = OPS[name]
    for grad_pass in args.passes:
      if spec[0] in ("prelu", "lrelu_add", "concat") and grad_pass in ("dW", "dX"):
        continue
      compiled, jargs = jax_fn(spec, grad_pass)
      run_jax = lambda: jax.block_until_ready(compiled(*jargs))  # pylint: disable=cell-var-from-loop
      run_torch = torch_fn(spec, grad_pass)
      run_jax()
      run_torch()
      jt, tt = [], []
      for _ in range(args.repeats):
        jt.append(harness.timed(run_jax)[1:])
        tt.append(harness.timed(run_torch)[1:])
      med = lambda ts, i: statistics.median(t[i] for t in ts)
      row = dict(op=name, count=spec[7], pass_=grad_pass, jw=med(jt, 0), jc=med(jt, 1),
                 tw=med(tt, 0), tc=med(tt, 1))
      rows.append(row)
      print(f"{name:16s} {grad_pass:6s} JAX {row['jw']:.3f} s ({row['jc']:.3f} cpu)  "
            f"torch {row['tw']:.3f} s ({row['tc']:.3f} cpu)  JAX/torch {row['jw'] / row['tw']:.2f}",
            flush=True)
  print(f"\nload average at end {os.getloadavg()[0]:.1f}\n")
  print("| op | count | pass | JAX wall s | JAX cpu s | torch wall s | torch cpu s | JAX/torch wall |")
  print("|---|---|---|---|---|---|---|---|")
  for r in rows:
    print(f"| {r['op']} | {r['count']} | {r['pass_']} | {r['jw']:.3f} | {r['jc']:.3f} | "
          f"{r['tw']:.3f} | {r['tc']:.3f} | {r['jw'] / r['tw']:.2f} |")
  return 0
