"""`steps_per_execution = n` on JAX as one compiled call: `jax.lax.scan` of n train steps.

Keras' JAX trainer runs n steps per `train_function` call as n dispatches of one jitted step
from a Python loop. On small networks that dispatch is a large part of a step's time, so here
the n batches of a call are stacked and one `jax.jit`-ed `lax.scan` runs `train_step` over them.
The scan's carry is the whole training state Keras threads (weights, non-trainable variables,
both optimizers with the EMA of G, the metrics), so every step updates it exactly as a single
step would: the optimizers' step counters, the running means and the in-step divergence check
(`FirstNonFinite`) move once per step. The call returns the last step's logs, as Keras' does.

Keras' path is kept for `steps_per_execution = 1`, `run_eagerly`, `jit_compile=False` and a
`keras.distribution` (its jitted step carries the state's sharding as `out_shardings` and its
iterator lays each batch out over the devices; a stacked batch would need both redone). The
steps run one jitted step per dispatch, as Keras runs them, for the last call of an epoch with
fewer than n batches left, and on the CPU for networks with convolutions: XLA:CPU runs a
convolution inside a loop body far slower than the same one outside (jax-ml/jax#12868; a DCGAN
28x28 step ran 6.5 to 6.7x slower in the scan), while the MLPs' steps do not suffer.
"""

import jax
import keras
import numpy as np


def _stacked(batches):
    """n batches of one structure as one with a leading axis of n (host arrays stay on the host)."""
    def stack(*parts):
        if all(isinstance(p, np.ndarray) for p in parts):
            return np.stack(parts)
        return jax.numpy.stack(parts)

    return jax.tree_util.tree_map(stack, *batches)


def _like(new, old):
    """`new` in `old`'s dtypes: a scan's carry keeps its types from step to step."""
    return jax.tree_util.tree_map(lambda n, o: n if n.dtype == o.dtype else n.astype(o.dtype), new, old)


def _scan_pays(one_step, state, data):
    """Whether n steps in one `lax.scan` beat n dispatches: not on the CPU when the step convolves."""
    if jax.default_backend() != "cpu":
        return True
    return "convolution" not in one_step.lower(state, data).as_text()


class MultiStep:
    """`make_train_function` for Keras' JAX trainer with n steps per compiled call (a mixin of `JaxStep`)."""

    def _scan_steps(self, state, stacked):
        """n train steps in one traced program: the state carried, the last step's logs returned."""
        def body(state, data):
            logs, new_state = self.train_step(state, data)
            return _like(new_state, state), logs

        state, logs = jax.lax.scan(body, state, stacked)
        return jax.tree_util.tree_map(lambda v: v[-1], logs), state

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return
        n = self.steps_per_execution
        if n == 1 or self.run_eagerly or not self.jit_compile or keras.distribution.distribution() is not None:
            # Keras' own path. Under a distribution its `jit` pins the state's shardings and its
            # iterator shards each batch on the batch axis; the scan would see a stacked batch
            # sharded on the wrong axis, so a distributed run keeps one dispatch per step.
            return super().make_train_function(force=force)
        one_step = jax.jit(self.train_step, donate_argnums=0)
        n_steps = jax.jit(self._scan_steps, donate_argnums=0)
        scan = []  # decided at the first call, from the step's program

        def train_function(state, iterator):
            batches = [next(iterator)]  # no batch left: StopIteration ends the epoch, as in Keras
            for _ in range(n - 1):
                try:
                    batches.append(next(iterator))
                except StopIteration:
                    break
            if not scan:
                scan.append(_scan_pays(one_step, state, batches[0]))
            if len(batches) == n and scan[0]:
                return n_steps(state, _stacked(batches))
            for data in batches:  # fewer than n batches left, or convolutions on the CPU
                logs, state = one_step(state, data)
            return logs, state

        train_function.scans = scan  # [True]: the calls of n batches run as one scan (the tests read it)
        self.train_function = train_function
