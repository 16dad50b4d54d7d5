"""Class-conditional networks: generators on [z, label] (the label's embedding joined to z,
Mirza & Osindero 2014) and projection discriminators on [x, label] (Miyato & Koyama 2018)."""

import re

import keras
import numpy as np
import pytest

from ganzoo.layers import RowDot, SpectralNorm
from ganzoo.models.networks import (build_conv_discriminator, build_conv_generator, build_mlp_discriminator,
                                    build_mlp_generator, build_sn_conv_discriminator)

GENERATORS = {
    "mlp_vector": lambda: build_mlp_generator(2, (2,), hidden_units=8, num_classes=5),
    "mlp_image": lambda: build_mlp_generator(4, (8, 8, 1), hidden_units=8, output_activation="tanh", num_classes=3),
    "conv": lambda: build_conv_generator(4, (8, 8, 1), filters=4, num_classes=3, embedding_dim=6),
}
DISCRIMINATORS = {
    "mlp": lambda: build_mlp_discriminator((8, 8, 1), hidden_units=8, num_classes=3),
    "mlp_sn": lambda: build_mlp_discriminator((2,), hidden_units=8, spectral_norm=True, num_classes=5),
    "mlp_maxout": lambda: build_mlp_discriminator((2,), hidden_units=4, maxout=3, num_classes=5),
    "conv": lambda: build_conv_discriminator((8, 8, 1), filters=4, num_classes=3),
    "conv_critic": lambda: build_conv_discriminator((8, 8, 1), filters=4, batch_norm_layers=False, num_classes=3),
    "sn_conv": lambda: build_sn_conv_discriminator((8, 8, 1), filters=4, num_classes=3),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_conditional_generator_takes_z_and_an_int32_label(name):
    g = GENERATORS[name]()
    z_in, label_in = g.inputs
    assert z_in.dtype == "float32" and tuple(z_in.shape) == (None, g.inputs[0].shape[1])
    assert label_in.dtype == "int32" and tuple(label_in.shape) == (None,)
    num_classes = g.get_layer("label_embedding").input_dim
    z = np.random.default_rng(0).standard_normal((num_classes, z_in.shape[1])).astype("float32")
    same_z = np.repeat(z[:1], num_classes, axis=0)
    out = keras.ops.convert_to_numpy(g([same_z, np.arange(num_classes, dtype="int32")], training=False))
    assert out.shape[0] == num_classes and out.shape[1:] == tuple(g.output.shape[1:])
    # Same z, different labels: different samples; same label: the same sample.
    assert all(not np.allclose(out[0], out[k]) for k in range(1, num_classes))
    again = keras.ops.convert_to_numpy(g([same_z, np.zeros(num_classes, "int32")], training=False))
    np.testing.assert_allclose(again, np.repeat(out[:1], num_classes, axis=0), atol=1e-6)


def _embedding_matrix(d):
    layer = next(layer for layer in d.layers if "class_embedding" in layer.name)
    if isinstance(layer, SpectralNorm):
        return keras.ops.convert_to_numpy(layer.normalized_kernel())
    return layer.embeddings.numpy()


@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
def test_projection_discriminator_is_psi_of_phi_plus_embedding_dot_phi(name):
    d = DISCRIMINATORS[name]()
    x_in, label_in = d.inputs
    assert label_in.dtype == "int32"
    num_classes = _embedding_matrix(d).shape[0]
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (6,) + tuple(x_in.shape[1:])).astype("float32")
    y = rng.integers(0, num_classes, 6).astype("int32")
    for layer in d.layers:  # non-zero embeddings, so the projection term matters
        if "class_embedding" in layer.name:
            layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()][:1]
                              + layer.get_weights()[1:])
    phi = keras.ops.convert_to_numpy(keras.Model(x_in, d.get_layer("features").output)(x, training=False))
    score_layer = next(layer for layer in d.layers if layer.name in ("score", "sn_score"))
    psi = keras.ops.convert_to_numpy(score_layer(phi))
    expected = psi[:, 0] + np.sum(_embedding_matrix(d)[y] * phi, axis=1)
    got = keras.ops.convert_to_numpy(d([x, y], training=False))
    assert got.shape == (6, 1) and got.dtype == np.float32
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-4, atol=1e-4)
    assert np.abs(expected - psi[:, 0]).max() > 1e-2  # the label's term is really there


def test_row_dot_is_keras_dot_without_its_batch_matmul(tmp_path):
    """The projection's embed(y) . phi(x): the same values as Keras' Dot(axes=1), which earlier
    versions used (their saved models keep it and still load), as a multiply and a sum."""
    rng = np.random.default_rng(2)
    a, b = (rng.normal(size=(7, 33)).astype("float32") for _ in range(2))
    got = keras.ops.convert_to_numpy(RowDot()([a, b]))
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(keras.layers.Dot(axes=1)([a, b])), rtol=1e-5, atol=1e-5)
    assert got.shape == (7, 1)
    d = DISCRIMINATORS["conv"]()
    assert isinstance(d.get_layer("projection"), RowDot)
    d.save(tmp_path / "d.keras")
    assert isinstance(keras.saving.load_model(tmp_path / "d.keras").get_layer("projection"), RowDot)


@pytest.mark.parametrize("shapes, says", [([(4, 8), (4, 1)], "same width"), ([(4, 8), (4, 2, 4)], "two (batch, d)"),
                                           ([(4, 8)], "two (batch, d)")])
def test_row_dot_refuses_inputs_a_multiply_would_broadcast(shapes, says):
    """A (batch, 1) score beside (batch, d) features would broadcast into a sum over d copies:
    refused by name, as Keras' Dot refuses it."""
    with pytest.raises(ValueError, match=re.escape(says)):
        RowDot()([np.zeros(shape, "float32") for shape in shapes])
    with pytest.raises(ValueError):
        keras.layers.Dot(axes=1)([np.zeros(shape, "float32") for shape in shapes])


def test_conditional_networks_save_load_and_reject_bad_num_classes(tmp_path):
    g = GENERATORS["conv"]()
    g.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    z, y = np.ones((2, 4), "float32"), np.array([0, 2], "int32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded([z, y])), keras.ops.convert_to_numpy(g([z, y])), atol=1e-6)
    d = DISCRIMINATORS["sn_conv"]()
    d.save(tmp_path / "d.keras")
    x = np.zeros((2, 8, 8, 1), "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.models.load_model(tmp_path / "d.keras")([x, y])),
                               keras.ops.convert_to_numpy(d([x, y])), atol=1e-6)
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="num_classes"):
            build_mlp_generator(2, (2,), num_classes=bad)


def test_row_dot_called_on_one_tensor_says_it_takes_a_list():
    with pytest.raises(ValueError, match=re.escape("got one input of shape (4, 8). Call it as RowDot()([a, b])")):
        RowDot()(np.zeros((4, 8), "float32"))
