"""`steps_per_execution = n` on JAX: n steps in one compiled `lax.scan` call
(`ganzoo.models.backends.jax_multistep`) train exactly as n single steps."""

import keras
import numpy as np
import pytest

import ganzoo

pytestmark = [pytest.mark.both_backends,
              pytest.mark.skipif(keras.backend.backend() != "jax", reason="Keras' JAX trainer (the JAX pass of the tests)")]

STEPS, BATCH = 8, 4
IMAGES = (8, 8, 1)


def _samples(shape, steps=STEPS, k=1, nan_batch=None):
    x = np.random.default_rng(0).uniform(-1, 1, (steps * k * BATCH,) + shape).astype("float32")
    if nan_batch is not None:
        x[nan_batch * BATCH] = np.nan
    return x


def _labels(steps=STEPS, k=1):
    return (np.arange(steps * k * BATCH) % 3).astype("int32")


CASES = {  # name: (model, () -> (x, labels or None)); DCGAN with ADA's p and G's EMA threaded
    "gan_vector": (lambda: ganzoo.GAN(data_shape=(2,), latent_dim=2, width=8, seed=7), lambda: (_samples((2,)), None)),
    "wgan_gp_k2": (lambda: ganzoo.WGANGP(data_shape=IMAGES, latent_dim=4, width=8, seed=7, n_critic=2),
                   lambda: (_samples(IMAGES, k=2), None)),
    "sngan_vector_k2": (lambda: ganzoo.SNGAN(data_shape=(2,), latent_dim=2, width=8, seed=7, n_dis=2),
                        lambda: (_samples((2,), k=2), None)),
    "conditional_gan": (lambda: ganzoo.GAN(data_shape=(2,), latent_dim=2, width=8, seed=7, num_classes=3),
                        lambda: (_samples((2,)), _labels())),
    "dcgan_ada_ema": (lambda: ganzoo.DCGAN(data_shape=IMAGES, latent_dim=4, width=8, seed=7, augment="ada",
                                           ada_kimg=1), lambda: (_samples(IMAGES), None)),
}


@pytest.fixture
def scan_everywhere(monkeypatch):
    """The scan also for convolutions on the CPU (where the step is otherwise dispatched per step)."""
    from ganzoo.models.backends import jax_multistep

    monkeypatch.setattr(jax_multistep, "_scan_pays", lambda *args: True)


def _fit(make, n, x, y=None, callbacks=(), ema=None, **compile_kwargs):
    keras.utils.set_random_seed(0)
    model = make()
    model.compile(steps_per_execution=n, ema_decay=ema, **compile_kwargs)
    history = model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=list(callbacks))
    return model, history.history


def _state(model):
    return [np.asarray(v) for v in (*model.variables, *model.d_optimizer.variables, *model.g_optimizer.variables)]


def _assert_same_training(one, many, history_one, history_many):
    for i, (a, b) in enumerate(zip(_state(one), _state(many))):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6, err_msg=f"variable {i}")
    assert history_many.keys() == history_one.keys()
    for name in history_one:
        np.testing.assert_allclose(history_many[name], history_one[name], rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", CASES)
def test_n_steps_in_one_scan_train_as_n_single_steps(name, scan_everywhere):
    make, data = CASES[name]
    x, y = data()
    ema = 0.9 if name == "dcgan_ada_ema" else None
    one, history_one = _fit(make, 1, x, y, ema=ema)
    many, history_many = _fit(make, 4, x, y, ema=ema)
    assert many.train_function.scans == [True]
    _assert_same_training(one, many, history_one, history_many)
    k = many.d_steps
    assert (int(many.d_optimizer.iterations), int(many.g_optimizer.iterations)) == (STEPS * k, STEPS)
    assert int(np.asarray(many._nonfinite.steps.value)) == STEPS and many.first_nonfinite_step() == 0


def test_the_last_call_of_an_epoch_runs_the_batches_left(scan_everywhere):
    """7 batches with 4 per call: one scan of 4, then 3 single steps; the callbacks see Keras' indices."""
    from ganzoo.models.backends.jax_multistep import MultiStep

    class Steps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append(batch)

    make, _ = CASES["gan_vector"]
    x = _samples((2,), steps=7)
    one, history_one = _fit(make, 1, x)
    ours, keras_own = Steps(), Steps()
    many, history_many = _fit(make, 4, x, callbacks=[ours])
    _assert_same_training(one, many, history_one, history_many)
    assert int(many.g_optimizer.iterations) == 7 and int(np.asarray(many._nonfinite.steps.value)) == 7

    def keras_path():
        model = make()
        model.make_train_function = super(MultiStep, model).make_train_function
        return model

    _fit(keras_path, 4, x, callbacks=[keras_own])
    assert ours.seen == keras_own.seen == [3, 7]


def test_the_divergence_check_sees_each_step_inside_a_scan():
    """A NaN in the 3rd batch: the check names step 3 as with single steps, though the call ran 4."""
    make, _ = CASES["gan_vector"]
    x = _samples((2,), nan_batch=2)
    one, _ = _fit(make, 1, x)
    many, history = _fit(make, 4, x)
    assert many.train_function.scans == [True]
    assert one.first_nonfinite_step() == many.first_nonfinite_step() == 3
    assert not np.isfinite(history["d_loss"][-1])


def test_keras_path_without_jit_and_per_step_for_convolutions_on_the_cpu():
    make, data = CASES["gan_vector"]
    model, _ = _fit(make, 4, data()[0], jit_compile=False)
    assert not hasattr(model.train_function, "scans")  # Keras' own train function
    model, _ = _fit(lambda: ganzoo.DCGAN(data_shape=IMAGES, latent_dim=4, width=8, seed=7), 4, _samples(IMAGES))
    assert model.train_function.scans == [False]  # XLA:CPU convolves slowly inside a loop
    assert int(model.g_optimizer.iterations) == STEPS
