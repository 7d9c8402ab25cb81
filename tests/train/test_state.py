"""Learning-rate schedule and init scaling."""

import jax.numpy as jnp
import numpy as np

from star_jax.train.state import learning_rate_schedule, scale_kernels


def test_step_decay_every_n_epochs():
  schedule = learning_rate_schedule(1e-4, steps_per_epoch=10, decay_every_epochs=30,
                                    decay_factor=0.1)
  for step, lr in ((0, 1e-4), (299, 1e-4), (300, 1e-5), (599, 1e-5), (600, 1e-6)):
    np.testing.assert_allclose(float(schedule(step)), lr, rtol=1e-6)


def test_scale_kernels_touches_only_kernels():
  params = {"a": {"kernel": jnp.ones((3, 3, 2, 2)), "bias": jnp.ones(2)},
            "act": {"weight": jnp.full((1,), 0.25)}}
  scaled = scale_kernels(params, 0.5)
  np.testing.assert_array_equal(scaled["a"]["kernel"], 0.5)
  np.testing.assert_array_equal(scaled["a"]["bias"], 1.0)
  np.testing.assert_array_equal(scaled["act"]["weight"], 0.25)
  assert scale_kernels(params, 1.0) is params
