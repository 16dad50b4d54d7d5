"""Exports of class-conditional generators (made by the default builders): SavedModel
`serving_default(z, label)` and `sample(num_samples, seed, label)`, ONNX with both inputs,
parity, a card listing the classes, `generate(labels=)`, the ONNX-only runtime and
`ganzoo sample --label` / the per-class grid."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from PIL import Image

from ganzoo.export import ExportError, export_generator, load_exported, to_uint8, verify_export
from ganzoo.models.networks import build_conv_generator, build_mlp_generator

LATENT = 4
CLASSES = ["cat", "dog", "eel"]


def keras_out(generator, z, labels):
    return keras.ops.convert_to_numpy(generator([np.asarray(z, "float32"), np.asarray(labels, "int32")],
                                                training=False))


@pytest.fixture(scope="module")
def conditional_export(tmp_path_factory):
    keras.utils.set_random_seed(0)
    generator = build_conv_generator(LATENT, (8, 8, 1), filters=4, num_classes=3)
    base = tmp_path_factory.mktemp("exports") / "cdcgan_toy"
    return generator, export_generator(generator, base, class_names=CLASSES, card={"dataset": "toy"})


def test_card_signatures_and_onnx_inputs_name_the_label(conditional_export):
    import onnx

    _, path = conditional_export
    card = json.load(open(os.path.join(path, "model.json")))
    assert card["num_classes"] == 3 and card["class_names"] == CLASSES
    assert card["signatures"]["serving_default"] == {"z": ["float32", [None, LATENT]], "label": ["int32", [None]]}
    assert card["signatures"]["sample"]["label"] == ["int32", []]
    assert card["parity"]["max_abs_diff"]["onnx_vs_keras"] < 1e-4
    graph = onnx.load(os.path.join(path, "generator.onnx")).graph
    assert [i.name for i in graph.input] == ["z", "label"]
    assert graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT32
    with np.load(os.path.join(path, "parity_reference.npz")) as stored:
        np.testing.assert_array_equal(stored["label"], np.arange(8) % 3)


@pytest.mark.parametrize("backend", ["onnx", "saved_model"])
def test_generate_with_labels_matches_keras(conditional_export, backend):
    generator, path = conditional_export
    exported = load_exported(path, backend=backend)
    assert exported.conditional and exported.num_classes == 3 and exported.class_names == CLASSES
    z = np.random.default_rng(1).standard_normal((5, LATENT)).astype("float32")
    labels = np.array([2, 0, 1, 1, 2], "int32")
    np.testing.assert_allclose(exported.generate(z, labels=labels), keras_out(generator, z, labels), atol=1e-4)
    # One int: every sample of that class; none: the classes in turn.
    np.testing.assert_allclose(exported.generate(z, labels=1), keras_out(generator, z, [1] * 5), atol=1e-4)
    np.testing.assert_allclose(exported.generate(z), keras_out(generator, z, [0, 1, 2, 0, 1]), atol=1e-4)
    np.testing.assert_array_equal(exported.generate(4, seed=3, labels=2), exported.generate(4, seed=3, labels=2))
    for bad, match in ((3, r"labels must be in \[0, 3\)"), (-1, r"\[0, 3\)"), ([0, 1], "one per sample"),
                       (np.array([0.5] * 5), "one per sample")):
        with pytest.raises(ValueError, match=match):
            exported.generate(z, labels=bad)


def test_saved_model_sample_signature_takes_a_label_and_refuses_bad_ones(conditional_export):
    import tensorflow as tf

    generator, path = conditional_export
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["sample"](num_samples=tf.constant(4), seed=tf.constant(5, tf.int64),
                                      label=tf.constant(1))
    z = tf.random.stateless_normal([4, LATENT], seed=tf.constant([5, 0], tf.int64)).numpy()
    np.testing.assert_allclose(out["images"].numpy(), keras_out(generator, z, [1] * 4), atol=1e-4)
    np.testing.assert_array_equal(out["images_uint8"].numpy(), to_uint8(out["images"].numpy()))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes"):
        loaded.signatures["serving_default"](z=tf.constant(z), label=tf.constant([0, 1, 3, 0]))
    report = verify_export(path)
    assert report["max_abs_diff"]["onnx_vs_saved_model"] < 1e-4


def test_onnx_runtime_alone_generates_per_class(conditional_export, tmp_path, repo_root, subprocess_env):
    generator, path = conditional_export
    z = np.random.default_rng(2).standard_normal((3, LATENT)).astype("float32")
    np.save(tmp_path / "z.npy", z)
    code = textwrap.dedent(f"""
        import sys
        sys.modules["tensorflow"] = None  # any import of TensorFlow or Keras now fails
        sys.modules["keras"] = None
        import numpy as np
        from ganzoo.export import load_exported, verify_export
        gen = load_exported({path!r})
        assert gen.backend == "onnx" and gen.class_names == {CLASSES!r}
        np.save("out.npy", gen.generate(np.load("z.npy"), labels=[2, 1, 0]))
        verify_export({path!r}, formats=("onnx",))
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env=subprocess_env(), timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), keras_out(generator, z, [2, 1, 0]), atol=1e-4)


def test_cli_sample_draws_a_class_or_one_row_per_class(conditional_export, tmp_path, run_main):
    generator, path = conditional_export
    code, out, err = run_main(["sample", path, "--out", tmp_path / "grid.png", "--per-class", "4", "--seed", "2"])
    assert code == 0, err
    assert "one row per class (cat, dog, eel)" in out
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (3 * 9 + 1, 4 * 9 + 1)  # 3 rows of 4 images of 8x8, 1-pixel borders
    z = np.random.default_rng(2).standard_normal((12, LATENT)).astype("float32")
    expected = to_uint8(keras_out(generator, z, np.repeat([0, 1, 2], 4)))
    for row in range(3):
        for col in range(4):
            tile = grid[1 + row * 9: 1 + row * 9 + 8, 1 + col * 9: 1 + col * 9 + 8]
            assert np.abs(tile.astype(int) - expected[row * 4 + col, ..., 0]).max() <= 1, (row, col)
    for label in ("dog", "1"):
        code, _, err = run_main(["sample", path, "--out", tmp_path / "dog.png", "--n", "4", "--label", label])
        assert code == 0, err
        picture = np.asarray(Image.open(tmp_path / "dog.png"))
        expected = to_uint8(keras_out(generator, np.random.default_rng(0).standard_normal((4, LATENT)), [1] * 4))
        assert np.abs(picture[1:9, 1:9].astype(int) - expected[0, ..., 0]).max() <= 1
    code, _, err = run_main(["sample", path, "--out", tmp_path / "x.png", "--label", "fox"])
    assert code == 2 and "not a class" in err and "cat, dog, eel" in err


def test_unconditional_exports_take_no_labels(tmp_path, run_main):
    keras.utils.set_random_seed(0)
    path = export_generator(build_mlp_generator(LATENT, (2,), hidden_units=8), tmp_path / "u", formats="onnx")
    exported = load_exported(path)
    assert not exported.conditional and exported.num_classes is None
    with pytest.raises(ValueError, match="unconditional"):
        exported.generate(2, labels=0)
    code, _, err = run_main(["sample", path, "--out", tmp_path / "u.png", "--label", "1"])
    assert code == 2 and "unconditional" in err


def test_conditional_export_input_errors(tmp_path):
    conditional = build_mlp_generator(LATENT, (2,), hidden_units=8, num_classes=3)
    with pytest.raises(ExportError, match="2 class_names for a generator of 3 classes"):
        export_generator(conditional, tmp_path / "a", class_names=["x", "y"])
    with pytest.raises(ExportError, match="takes one input"):
        export_generator(build_mlp_generator(LATENT, (2,), hidden_units=8), tmp_path / "b", class_names=["x", "y"])
    # A two-input generator of the user's, without the builders' label_embedding: names needed.
    z, label = keras.Input((LATENT,), name="z"), keras.Input((), dtype="int32", name="label")
    onehot = keras.layers.Lambda(lambda y: keras.ops.one_hot(y, 2))(label)
    out = keras.layers.Dense(2)(keras.layers.Concatenate()([z, onehot]))
    user = keras.Model([z, label], out)
    with pytest.raises(ExportError, match="pass class_names"):
        export_generator(user, tmp_path / "c", formats="onnx")
    path = export_generator(user, tmp_path / "d", formats="onnx", class_names=["even", "odd"])
    assert load_exported(path).num_classes == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()  # refused before writing
