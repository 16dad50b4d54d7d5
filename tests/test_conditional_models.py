"""Class-conditional models: num_classes on every model, fit on (samples, labels), generate(labels=).

The JAX step is checked against the TensorFlow step (conditional DCGAN and WGAN-GP) in
test_backends.py; these tests run on the TensorFlow backend."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo.models.networks import build_conv_discriminator, build_conv_generator

MODELS = [(ganzoo.GAN, {}, (2,)), (ganzoo.DCGAN, {}, (8, 8, 1)), (ganzoo.WGANGP, {"n_critic": 2}, (8, 8, 1)),
          (ganzoo.SNGAN, {"n_dis": 2}, (8, 8, 1))]


def _tiny(cls, kwargs, shape, **extra):
    return cls(data_shape=shape, latent_dim=4, width=8, seed=1, num_classes=3, **kwargs, **extra)


def _data(shape, n=32):
    x = np.random.default_rng(0).uniform(-1, 1, (n,) + shape).astype("float32")
    return x, (np.arange(n) % 3).astype("int32")


@pytest.mark.both_backends
@pytest.mark.parametrize("cls,kwargs,shape", MODELS, ids=lambda v: getattr(v, "__name__", None))
def test_every_model_trains_conditionally_and_round_trips(cls, kwargs, shape, tmp_path):
    model = _tiny(cls, kwargs, shape)
    assert [t.name for t in model.generator.inputs] == ["z", "label"]
    assert [t.name for t in model.discriminator.inputs] == ["x", "label"]
    model.compile()
    x, y = _data(shape)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert int(model.d_optimizer.iterations) == 4
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.num_classes == 3 and loaded.get_config()["num_classes"] == 3
    np.testing.assert_array_equal(loaded.generate(4, seed=0, labels=[0, 1, 2, 0]),
                                  model.generate(4, seed=0, labels=[0, 1, 2, 0]))


@pytest.mark.both_backends
def test_the_fake_batch_takes_the_real_batch_labels_and_critic_steps_their_own():
    """Adam moves only the embedding rows of classes a player saw. Even batches hold classes 0
    and 1, odd ones 1 and 2 (one class per batch would tell G nothing: its batch norm removes a
    constant), and WGAN-GP takes 2 critic batches per step: the critic sees classes 0-2 (each
    critic step its own batch), G only 1 and 2 (the last critic batch's, for its fresh fake
    batch), and class 3 is never drawn, so neither table's row 3 moves (nor G's row 0)."""
    model = ganzoo.WGANGP(data_shape=(8, 8, 1), latent_dim=4, width=8, seed=1, num_classes=4, n_critic=2)
    model.compile()
    x, _ = _data((8, 8, 1), 64)
    y = np.concatenate([np.arange(8) % 2 + i % 2 for i in range(8)]).astype("int32")
    g_table, d_table = model.generator.get_layer("label_embedding"), model.discriminator.get_layer("class_embedding")
    g_before, d_before = np.array(g_table.embeddings), np.array(d_table.embeddings)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    g_moved = np.abs(np.array(g_table.embeddings) - g_before).max(axis=1)
    d_moved = np.abs(np.array(d_table.embeddings) - d_before).max(axis=1)
    assert (d_moved[:3] > 0).all() and d_moved[3] == 0, d_moved
    assert g_moved[0] == 0 and (g_moved[1:3] > 0).all() and g_moved[3] == 0, g_moved


def test_a_labelled_dataset_and_an_iterator_train_a_conditional_model():
    model = _tiny(ganzoo.WGANGP, {"n_critic": 2}, (8, 8, 1))
    model.compile()
    x, y = _data((8, 8, 1))
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
    assert int(model.g_optimizer.iterations) == 2 and int(model.d_optimizer.iterations) == 4
    model.fit(iter([(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)]), epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == 2 * int(model.g_optimizer.iterations) > 4


def test_a_conditional_model_refuses_data_without_labels_or_out_of_range():
    model = _tiny(ganzoo.DCGAN, {}, (8, 8, 1))
    model.compile()
    x, y = _data((8, 8, 1))
    with pytest.raises(ValueError, match="class-conditional.*with_labels=True"):
        model.fit(x, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="class-conditional"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        model.fit(x, y + 1, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="ints of shape"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, x)).batch(8), epochs=1, verbose=0)
    with pytest.raises(Exception, match=r"labels must be in \[0, 3\)"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y + 1)).batch(8), epochs=1, verbose=0)


def test_an_unconditional_model_refuses_labels():
    """Labels given to a model that learns p(x) would be dropped without a word: refused."""
    model = ganzoo.DCGAN(data_shape=(8, 8, 1), latent_dim=4, width=8, seed=1)
    model.compile()
    x, y = _data((8, 8, 1))
    for args in ((x, y), ((x, y),)):
        with pytest.raises(ValueError, match="unconditional.*takes no labels"):
            model.fit(*args, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, labels=[0, 1])


def test_construction_checks():
    with pytest.raises(ValueError, match="num_classes.*>= 2"):
        ganzoo.DCGAN(data_shape=(8, 8, 1), num_classes=1)
    with pytest.raises(ValueError, match="packing.*conditioning"):
        ganzoo.GAN(data_shape=(2,), num_classes=3, pack=2)
    one_input_g = build_conv_generator(4, (8, 8, 1), filters=8)
    with pytest.raises(ValueError, match=r"takes \[z, label\]|\[z, label\]"):
        ganzoo.DCGAN(generator=one_input_g, latent_dim=4, width=8, num_classes=3)
    g = build_conv_generator(4, (8, 8, 1), filters=8, num_classes=3)
    one_input_d = build_conv_discriminator((8, 8, 1), filters=8)
    with pytest.raises(ValueError, match=r"discriminator.*\[x, label\]"):
        ganzoo.DCGAN(generator=g, discriminator=one_input_d, latent_dim=4, num_classes=3)
    d = build_conv_discriminator((8, 8, 1), filters=8, num_classes=3)
    model = ganzoo.DCGAN(generator=g, discriminator=d, latent_dim=4, num_classes=3)  # the two-input contract
    assert model.data_shape == (8, 8, 1)
    with pytest.raises(ValueError, match="z of shape"):
        ganzoo.DCGAN(generator=g, discriminator=d, latent_dim=4)  # conditional nets, no num_classes


def test_generate_takes_labels_and_they_matter():
    model = _tiny(ganzoo.DCGAN, {}, (8, 8, 1))
    model.compile(ema_decay=0.9)
    x, y = _data((8, 8, 1))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="class-conditional.*labels="):
        model.generate(4, seed=0)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        model.generate(4, seed=0, labels=3)
    with pytest.raises(ValueError, match="one int or 4 ints"):
        model.generate(4, seed=0, labels=[0, 1])
    a, b = model.generate(4, seed=0, labels=0), model.generate(4, seed=0, labels=2)
    assert a.shape == (4, 8, 8, 1) and np.abs(a - b).max() > 1e-4
    assert model.sampling_generator() is not model.generator  # the EMA generator, conditional too
    z = np.random.default_rng(0).standard_normal((4, 4)).astype("float32")
    out = model([z, np.full(4, 2, "int32")])
    np.testing.assert_allclose(np.asarray(out), model.generator([z, np.full(4, 2, "int32")]), atol=1e-6)
