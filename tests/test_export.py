"""Tests of ganzoo.export: SavedModel + ONNX exports of tiny generators."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras

from ganzoo.export import (
    ExportError,
    export_generator,
    list_exports,
    load_exported,
    to_uint8,
    verify_export,
)

LATENT = 6


# ----------------------------------------------------------------------- tiny networks
def conv_generator(side=8, latent_dim=LATENT, seed=0):
    """DCGAN-like: Dense -> Reshape -> ConvT -> BN -> ReLU -> ConvT -> tanh, to side x side x 1.

    The batch-norm moving statistics are set away from (0, 1) so that an export running batch
    norm in training mode (batch statistics) would not match inference mode.
    """
    keras.utils.set_random_seed(seed)
    base = side // 4 if side % 4 == 0 else side // 2
    strides = 2 if side % 4 == 0 else 1
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(base * base * 8, use_bias=False)(z)
    x = keras.layers.Reshape((base, base, 8))(x)
    x = keras.layers.Conv2DTranspose(4, 4, strides=strides, padding="same", use_bias=False)(x)
    bn = keras.layers.BatchNormalization()
    x = bn(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same")(x)
    x = keras.layers.Activation("tanh", dtype="float32")(x)
    model = keras.Model(z, x, name="tiny_dcgan_generator")
    rng = np.random.default_rng(seed)
    bn.moving_mean.assign(rng.normal(0.0, 0.5, 4).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.2, 3.0, 4).astype("float32"))
    return model


def mlp_generator(latent_dim=LATENT, seed=0):
    keras.utils.set_random_seed(seed)
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(16, activation="relu")(z)
    x = keras.layers.Dense(2)(x)
    return keras.Model(z, x, name="tiny_mlp_generator")


def trained_dcgan(generator, steps=1, seed=3, ema_decay=None):
    """A real ganzoo DCGAN around `generator` (a tiny critic), trained `steps` eager steps."""
    import ganzoo

    model = ganzoo.DCGAN(generator=generator, latent_dim=LATENT, width=4, seed=seed)
    # Adam(1e-2): steps large enough that the EMA and the live generator differ. Eager: no tracing.
    model.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2),
                  ema_decay=ema_decay, ema_warmup=False, run_eagerly=True)
    x = np.random.default_rng(0).uniform(-1, 1, (8 * steps,) + model.data_shape).astype("float32")
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model


def keras_out(generator, z, training=False):
    return np.asarray(generator(np.asarray(z, "float32"), training=training), dtype="float32")


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dcgan_export(tmp_path_factory):
    base = tmp_path_factory.mktemp("exports") / "dcgan_toy"
    model = trained_dcgan(conv_generator(), steps=2)
    card = {"dataset": "toy_squares", "metrics": {"fid": np.float32(1.5)}}
    path = export_generator(model, base, card=card)
    return model.generator, base, path


@pytest.fixture(scope="module")
def mlp_export(tmp_path_factory):
    base = tmp_path_factory.mktemp("exports") / "gan_ring"
    gen = mlp_generator()
    return gen, base, export_generator(gen, base)


# ------------------------------------------------------------------- layout and names
def test_layout_signatures_and_names(dcgan_export):
    import onnx
    import tensorflow as tf

    gen, base, path = dcgan_export
    assert path == os.path.join(str(base), "1")
    assert sorted(os.listdir(base)) == ["1"]  # no temp directory left behind
    for name in ("saved_model.pb", "variables", "generator.onnx", "model.json"):
        assert os.path.exists(os.path.join(path, name)), name

    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "sample"}
    serve = loaded.signatures["serving_default"]
    (z_spec,) = serve.structured_input_signature[1].values()
    assert list(serve.structured_input_signature[1]) == ["z"]
    assert z_spec.dtype == tf.float32 and z_spec.shape.as_list() == [None, LATENT]
    outs = serve.structured_outputs
    assert set(outs) == {"images", "images_uint8"}
    assert outs["images"].dtype == tf.float32 and outs["images"].shape.as_list() == [None, 8, 8, 1]
    assert outs["images_uint8"].dtype == tf.uint8
    sample = loaded.signatures["sample"]
    specs = sample.structured_input_signature[1]
    assert specs["num_samples"].dtype == tf.int32 and specs["num_samples"].shape.rank == 0
    assert specs["seed"].dtype == tf.int64 and specs["seed"].shape.rank == 0
    assert set(sample.structured_outputs) == {"images", "images_uint8"}

    proto = onnx.load(os.path.join(path, "generator.onnx"))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in proto.graph.input] == ["z"]
    assert sorted(o.name for o in proto.graph.output) == ["images", "images_uint8"]
    z_dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert z_dims[0].dim_param == "batch" and z_dims[1].dim_value == LATENT
    # Each weight is stored once (keras.export.ExportArchive would store it twice).
    weights_bytes = 4 * gen.count_params()
    assert os.path.getsize(os.path.join(path, "variables", "variables.data-00000-of-00001")) < 1.5 * weights_bytes


def test_model_card(dcgan_export):
    import hashlib

    _, _, path = dcgan_export
    card = json.load(open(os.path.join(path, "model.json")))
    assert card["model"] == "DCGAN" and card["dataset"] == "toy_squares" and card["ema"] is False
    assert card["latent_dim"] == LATENT and card["image_shape"] == [8, 8, 1]
    assert card["value_range"] == [-1.0, 1.0]
    assert card["training_steps"] == 2 and card["seed"] == 3 and card["metrics"] == {"fid": 1.5}
    assert card["version"] == 1 and card["name"] == "dcgan_toy" and card["onnx_opset"] >= 17
    for lib in ("ganzoo", "tensorflow", "keras"):
        assert card["versions"][lib]
    assert {"saved_model.pb", "generator.onnx", "variables/variables.index"} <= set(card["files"])
    for rel, entry in card["files"].items():
        data = open(os.path.join(path, rel), "rb").read()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    assert max(card["parity"]["max_abs_diff"].values()) <= 1e-4


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("backend", ["saved_model", "onnx"])
def test_exports_match_keras_in_inference_mode(dcgan_export, backend):
    gen, base, _ = dcgan_export
    exported = load_exported(base, backend=backend)
    assert exported.backend == backend and exported.latent_dim == LATENT
    assert exported.output_shape == (8, 8, 1) and exported.card["dataset"] == "toy_squares"
    z = np.random.default_rng(5).standard_normal((5, LATENT)).astype("float32")
    images = exported.generate(z)
    assert images.dtype == np.float32 and images.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(images, keras_out(gen, z), atol=1e-4)
    # Batch norm with batch statistics would give something else: the check above has teeth.
    # (A copy: training=True updates the moving statistics of the network it runs.)
    assert np.abs(images - keras_out(conv_generator(), z, training=True)).max() > 1e-2
    assert np.abs(images).max() <= 1.0
    # Same seed, same samples; the batch size changes only float rounding.
    np.testing.assert_array_equal(exported.generate(7, seed=1), exported.generate(7, seed=1))
    np.testing.assert_allclose(exported.generate(7, seed=1), exported.generate(7, seed=1, batch_size=3), atol=1e-6)
    assert np.abs(exported.generate(7, seed=1) - exported.generate(7, seed=2)).max() > 1e-3
    outs = exported.run_all(z)
    np.testing.assert_array_equal(outs["images_uint8"], to_uint8(outs["images"]))


def test_uint8_conversion_values():
    x = np.array([-1.0, -0.75, 0.0, 1.0, 1.5, -2.0], "float32")
    np.testing.assert_array_equal(to_uint8(x), [0, 32, 128, 255, 255, 0])  # 31.875 -> 32, 127.5 -> 128


def test_verify_export_reports_and_catches_tampering(dcgan_export, tmp_path):
    import shutil

    gen, _, path = dcgan_export
    report = verify_export(path, keras_generator=gen)
    assert set(report["max_abs_diff"]) == {"saved_model_vs_keras", "onnx_vs_keras", "onnx_vs_saved_model"}
    assert max(report["max_abs_diff"].values()) <= 1e-4 and report["uint8_mismatches"] == 0
    # Without the Keras model, the reference stored at export time stands in for it.
    assert "onnx_vs_keras" in verify_export(path)["max_abs_diff"]

    copy = tmp_path / "1"
    shutil.copytree(path, copy)
    with open(copy / "variables" / "variables.data-00000-of-00001", "r+b") as f:
        f.seek(100)
        f.write(b"\x13\x37\x13\x37")
    with pytest.raises(ExportError, match="sha256"):
        verify_export(copy)


def test_ganzoo_verify_checks_every_version_and_exits_0_1_or_2(dcgan_export, tmp_path, run_main):
    _, base, path = dcgan_export
    code, out, err = run_main(["verify", base])
    report = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and report["ok"] is True and report["export"] == path and report["files_checked"] >= 5, err
    code, out, _ = run_main(["verify", path, "--format", "onnx"])
    assert code == 0 and set(json.loads(out)["max_abs_diff"]) == {"onnx_vs_keras"}
    # A modified file: the version fails (exit 1), named in the report.
    copy = tmp_path / "copy" / "1"
    shutil.copytree(path, copy)
    with open(copy / "parity_reference.npz", "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    code, out, err = run_main(["verify", tmp_path / "copy"])
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and "sha256" in report["error"] and "1 of 1" in err, (out, err)
    # A card naming a file outside its version directory is refused before anything is read there.
    shutil.rmtree(copy)
    shutil.copytree(path, copy)
    (tmp_path / "secret").write_text("not part of the export")
    card = json.loads((copy / "model.json").read_text())
    card["files"]["../../secret"] = {"sha256": "0" * 64}
    (copy / "model.json").write_text(json.dumps(card))
    code, out, _ = run_main(["verify", copy])
    report = json.loads(out)
    assert code == 1 and "outside" in report["error"] and "../../secret" in report["error"], out
    # Usage errors: no export there, no directory, a bad --atol.
    for argv in (["verify", tmp_path / "secret"], ["verify", tmp_path / "nowhere"], ["verify", tmp_path],
                 ["verify", path, "--atol", "-1"]):
        code, out, err = run_main(argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (argv, out, err)


def test_sample_signature_is_deterministic(dcgan_export):
    import tensorflow as tf

    _, _, path = dcgan_export
    sample = tf.saved_model.load(path).signatures["sample"]
    call = lambda n, seed: sample(num_samples=tf.constant(n, tf.int32), seed=tf.constant(seed, tf.int64))
    a, b, c = call(4, 11), call(4, 11), call(4, 12)
    assert a["images"].shape == (4, 8, 8, 1) and a["images_uint8"].dtype == tf.uint8
    np.testing.assert_array_equal(a["images"].numpy(), b["images"].numpy())
    assert np.abs(a["images"].numpy() - c["images"].numpy()).max() > 1e-3
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples must be positive"):
        call(0, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 4096"):
        call(4097, 1)


def test_saved_model_cli_show_and_run(dcgan_export, tmp_path, capsys, subprocess_env):
    from tensorflow.python.tools import saved_model_cli

    _, _, path = dcgan_export
    saved_model_cli._show_all(path)  # what `saved_model_cli show --all` prints
    show = capsys.readouterr().out
    assert "signature_def['serving_default']" in show and "signature_def['sample']" in show
    assert "inputs['z']" in show and "outputs['images_uint8']" in show and "inputs['num_samples']" in show
    # `run` loads the SavedModel the TF1 way, as TF Serving does: a subprocess, as a user would.
    run = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run", "--dir", path,
                          "--tag_set", "serve", "--signature_def", "sample", "--input_exprs", "num_samples=3;seed=5",
                          "--outdir", str(tmp_path)], capture_output=True, text=True, env=subprocess_env(), timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    u8 = np.load(tmp_path / "images_uint8.npy")
    images = np.load(tmp_path / "images.npy")
    assert u8.shape == (3, 8, 8, 1) and u8.dtype == np.uint8
    np.testing.assert_array_equal(u8, to_uint8(images))


def test_onnx_runtime_without_tensorflow(dcgan_export, tmp_path, repo_root, subprocess_env):
    """The README snippet and export.load_exported(.onnx) with TensorFlow and Keras unimportable."""
    _, _, path = dcgan_export
    readme = open(os.path.join(repo_root, "exported_models", "README.md")).read()
    snippet = re.search(r"<!-- snippet: onnxruntime.*?-->\s*```python\n(.*?)```", readme, re.S).group(1)
    onnx_path = os.path.join(path, "generator.onnx")
    snippet = snippet.replace('"exported_models/dcgan_mnist_sample_pretrained/1/generator.onnx"', repr(onnx_path))
    code = textwrap.dedent(f"""
        import sys
        sys.modules["tensorflow"] = None  # any import of TensorFlow or Keras now fails
        sys.modules["keras"] = None
        exec(compile({snippet!r}, "README snippet", "exec"))
        # ganzoo.export itself needs no TensorFlow for ONNX.
        import ganzoo.export as export
        gen = export.load_exported({onnx_path!r})
        out = gen.generate(3, seed=0)
        assert gen.backend == "onnx" and out.shape == (3, 8, 8, 1), out.shape
        assert gen.card["latent_dim"] == {LATENT}
        print("ok", float(abs(out).max()))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=subprocess_env(),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ok" in proc.stdout and "(16, 8, 8, 1) float32" in proc.stdout
    png = (tmp_path / "samples.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 60


# --------------------------------------------------------------------- other models
def test_vector_generator_exports_samples(mlp_export):
    import onnx

    gen, base, path = mlp_export
    proto = onnx.load(os.path.join(path, "generator.onnx"))
    assert [o.name for o in proto.graph.output] == ["samples"]
    card = json.load(open(os.path.join(path, "model.json")))
    assert card["output_shape"] == [2] and card["image_shape"] is None and card["value_range"] is None
    z = np.random.default_rng(2).standard_normal((4, LATENT)).astype("float32")
    for backend in ("onnx", "saved_model"):
        out = load_exported(base, backend=backend).generate(z)
        np.testing.assert_allclose(out, keras_out(gen, z), atol=1e-4)


def test_ema_generator_is_exported(tmp_path):
    model = trained_dcgan(conv_generator(seed=0), steps=2, ema_decay=0.5)
    gen, ema = model.generator, model.ema_generator
    path = export_generator(model, tmp_path / "m", formats=("onnx",))
    assert not os.path.exists(os.path.join(path, "saved_model.pb"))
    z = np.random.default_rng(0).standard_normal((3, LATENT)).astype("float32")
    out = load_exported(path).generate(z)
    np.testing.assert_allclose(out, keras_out(ema, z), atol=1e-4)
    assert np.abs(out - keras_out(gen, z)).max() > 1e-3
    assert json.load(open(os.path.join(path, "model.json")))["ema"] is True


def test_mixed_precision_generator_is_exported_in_float32(tmp_path):
    import onnx

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gen = conv_generator(side=8)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert gen.layers[1].compute_dtype == "float16"
    path = export_generator(gen, tmp_path / "mp", formats=("saved_model", "onnx"))
    proto = onnx.load(os.path.join(path, "generator.onnx"))
    float16 = onnx.TensorProto.FLOAT16
    assert all(t.data_type != float16 for t in proto.graph.initializer)
    assert all(not (n.op_type == "Cast" and any(a.i == float16 for a in n.attribute)) for n in proto.graph.node)
    card = json.load(open(os.path.join(path, "model.json")))
    assert card["trained_dtype_policy"] == "mixed_float16"
    assert 0 < card["float32_vs_trained_precision_max_abs_diff"] < 2e-2
    z = np.random.default_rng(1).standard_normal((4, LATENT)).astype("float32")
    np.testing.assert_allclose(load_exported(path, backend="saved_model").generate(z), keras_out(gen, z), atol=2e-2)


@pytest.mark.parametrize("name", ["GAN", "DCGAN", "WGANGP", "SNGAN"])
def test_ganzoo_models_with_ema(tmp_path, name):
    """The real model classes: untrained is refused, trained exports its EMA generator."""
    models = pytest.importorskip("ganzoo.models")
    model = getattr(models, name)(data_shape=(8, 8, 1), latent_dim=4, width=4, seed=1)
    with pytest.raises(ExportError, match="not been trained"):
        export_generator(model, tmp_path / "m")
    model.compile(ema_decay=0.5, run_eagerly=True)  # eager: one step without tracing
    with pytest.raises(ExportError, match="0 training steps"):
        export_generator(model, tmp_path / "m")
    x = np.random.default_rng(0).uniform(-1, 1, (8 * model.d_steps, 8, 8, 1)).astype("float32")
    model.fit(x, batch_size=8, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0)
    path = export_generator(model, tmp_path / "m")
    card = json.load(open(os.path.join(path, "model.json")))
    assert card["model"] == name and card["ema"] is True and card["training_steps"] == 1 and card["seed"] == 1
    z = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    expected = keras_out(model.ema_generator, z)
    for backend in ("onnx", "saved_model"):
        np.testing.assert_allclose(load_exported(path, backend=backend).generate(z), expected, atol=1e-4)
    assert list_exports(tmp_path / "m") == [path]


# ------------------------------------------------------------ versions and atomicity
def test_versions_increment_and_overwrite_is_refused(tmp_path):
    gen = mlp_generator()
    base = tmp_path / "ring"
    first = export_generator(gen, base, formats="onnx")
    second = export_generator(gen, base, formats="onnx")
    assert [os.path.basename(p) for p in (first, second)] == ["1", "2"]
    assert list_exports(base) == [first, second] and list_exports(second) == [second]
    assert load_exported(base).path == os.path.join(second, "generator.onnx")
    assert os.path.basename(export_generator(gen, base, version=7, formats="onnx")) == "7"
    assert os.path.basename(export_generator(gen, base, formats="onnx")) == "8"

    before = open(os.path.join(second, "model.json")).read()
    with pytest.raises(ExportError, match="already exists.*overwrite=True"):
        export_generator(mlp_generator(seed=9), base, version=2, formats="onnx")
    assert open(os.path.join(second, "model.json")).read() == before
    export_generator(mlp_generator(seed=9), base, version=2, formats="onnx", overwrite=True)
    z = np.zeros((1, LATENT), "float32") + 0.3
    np.testing.assert_allclose(load_exported(second).generate(z), keras_out(mlp_generator(seed=9), z), atol=1e-4)
    assert sorted(os.listdir(base)) == ["1", "2", "7", "8"]


def test_failure_before_rename_leaves_no_version(tmp_path, monkeypatch):
    import ganzoo.export.writers as export

    base = tmp_path / "atomic"
    export_generator(mlp_generator(), base, formats="onnx")

    def broken(*args, **kwargs):
        raise RuntimeError("injected failure before rename")

    monkeypatch.setattr(export, "verify_export", broken)
    with pytest.raises(RuntimeError, match="injected"):
        export_generator(mlp_generator(), base)
    assert sorted(os.listdir(base)) == ["1"]  # no version 2, no .tmp-export-* left


def test_parity_failure_refuses_export(tmp_path, monkeypatch):
    """An ONNX file of other weights than the SavedModel's: the parity check must refuse it."""
    import ganzoo.export.writers as export

    original = export._write_onnx
    other = conv_generator(seed=7)
    monkeypatch.setattr(export, "_write_onnx", lambda gen, *args: original(other, *args))
    base = tmp_path / "parity"
    with pytest.raises(ExportError, match="Parity check failed"):
        export_generator(conv_generator(seed=0), base)
    assert os.listdir(base) == []


# --------------------------------------------------------------------------- bad input
def test_bad_input_errors(tmp_path):
    unbuilt = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)])
    with pytest.raises(ExportError, match="not built"):
        export_generator(unbuilt, tmp_path / "a")
    import ganzoo

    with pytest.raises(ExportError, match="never compiled"):
        export_generator(ganzoo.GAN(generator=mlp_generator(), latent_dim=LATENT, width=4), tmp_path / "a")
    with pytest.raises(ExportError, match="formats"):
        export_generator(mlp_generator(), tmp_path / "a", formats=("tflite",))
    with pytest.raises(ExportError, match="version"):
        export_generator(mlp_generator(), tmp_path / "a", version=0)
    with pytest.raises(ExportError, match="latent_dim"):
        export_generator(mlp_generator(), tmp_path / "a", latent_dim=LATENT + 1)
    with pytest.raises(ExportError, match="ganzoo model"):
        export_generator("generator.keras", tmp_path / "a")
    z = keras.Input((LATENT,))
    unbounded = keras.Model(z, keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4, kernel_initializer="ones")(z)))
    with pytest.raises(ExportError, match=r"outside \[-1, 1\]"):
        export_generator(unbounded, tmp_path / "a")
    assert list_exports(tmp_path / "a") == []


def test_loader_errors(tmp_path, dcgan_export):
    import shutil

    with pytest.raises(ExportError, match="No export"):
        load_exported(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="holds no export"):
        load_exported(tmp_path / "empty")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(ExportError, match="not vouched for by a model card"):  # no card: not even parsed
        load_exported(bad)
    # A truncated ONNX file inside an export: caught by its checksum.
    _, _, path = dcgan_export
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    onnx_file = copy / "generator.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:1000])
    with pytest.raises(ExportError, match="sha256"):
        load_exported(copy)
    with pytest.raises(ValueError, match="z of shape"):
        load_exported(path).generate(np.zeros((2, LATENT + 1), "float32"))


def _shipped(root):
    return sorted(d for d in os.listdir(os.path.join(root, "exported_models")) if d.endswith("_pretrained")
                  and os.path.isdir(os.path.join(root, "exported_models", d)))


def pytest_generate_tests(metafunc):
    if "shipped_export" in metafunc.fixturenames:
        metafunc.parametrize("shipped_export", _shipped(metafunc.config.rootpath))


def test_shipped_pretrained_exports_exist(repo_root):
    assert {"dcgan_mnist_sample_pretrained", "wgan_gp_mnist_sample_pretrained"} <= set(_shipped(repo_root))


def test_shipped_pretrained_export_loads_in_tf_and_onnx_runtime_and_is_small(shipped_export, repo_root):
    name = shipped_export
    base = os.path.join(repo_root, "exported_models", name)
    versions = sorted((d for d in os.listdir(base) if d.isdigit()), key=int)
    assert versions, f"{base} has no version directory"
    version_dir = os.path.join(base, versions[-1])
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(version_dir) for f in files)
    assert size < 5 * 2**20, f"{name} is {size / 2**20:.1f} MB; shipped exports must stay under 5 MB"
    # SavedModel vs ONNX Runtime vs the stored Keras reference, every sha256, the `sample` signature.
    # (verify_export raises ExportError on any mismatch.)
    report = verify_export(version_dir)
    assert max(report["max_abs_diff"].values()) < 1e-4, report
    with open(os.path.join(version_dir, "model.json")) as f:
        card = json.load(f)
    assert card["metrics"], "a shipped export's card carries its measured quality"
    sam = load_exported(base, backend="saved_model").generate(4, seed=0)
    onx = load_exported(base, backend="onnx").generate(4, seed=0)
    assert np.abs(sam - onx).max() < 1e-4
    if card.get("image_shape"):
        for images in (sam, onx):  # the documented range, exactly (ONNX Tanh can overshoot by an ulp)
            assert images.min() >= -1 and images.max() <= 1


def test_readme_onnxruntime_snippet_runs_on_the_shipped_export_without_tensorflow(repo_root, subprocess_env):
    readme = open(os.path.join(repo_root, "README.md")).read()
    snippet = re.search(r"<!-- snippet: readme-onnxruntime.*?-->\s*```python\n(.*?)```", readme, re.S).group(1)
    code = ("import sys\nsys.modules['tensorflow'] = None\nsys.modules['keras'] = None\n" + snippet +
            "\nassert images.shape == (16, 28, 28, 1) and images_uint8.dtype.name == 'uint8'"
            "\nassert -1 <= images.min() and images.max() <= 1\nprint('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, env=subprocess_env(),
                          timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]


# A finder installed ahead of everything (before `import ganzoo`): any import of Keras or
# TensorFlow fails, as in an environment with only numpy and onnxruntime installed.
_BLOCK_KERAS_AND_TF = """
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("keras", "tensorflow", "tf2onnx", "onnx"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocked())
"""


def test_shipped_exports_load_and_verify_without_keras_or_tensorflow(tmp_path, repo_root, subprocess_env):
    """`from ganzoo.export import load_exported` samples from every shipped ONNX export, and the
    sha256 + ONNX-vs-parity_reference.npz check runs, with Keras and TensorFlow unimportable;
    a modified file is still caught."""
    shipped = sorted(
        os.path.dirname(path)
        for path in glob.glob(os.path.join(repo_root, "exported_models", "*", "*", "generator.onnx"))
    )
    if not shipped:
        pytest.skip("no shipped ONNX export in exported_models/")
    tampered = tmp_path / "tampered" / "1"
    shutil.copytree(shipped[0], tampered)
    with open(tampered / "parity_reference.npz", "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    code = _BLOCK_KERAS_AND_TF + textwrap.dedent(f"""
        import json
        import ganzoo
        from ganzoo.export import ExportError, load_exported, verify_export
        for version_dir in {shipped!r}:
            gen = load_exported(version_dir)  # the ONNX file, checked against its sha256
            assert gen.backend == "onnx", gen.backend
            out = gen.generate(5, seed=0)
            assert out.shape == (5,) + gen.output_shape, out.shape
            assert len(out.shape) == 2 or abs(out).max() <= 1.0  # images in [-1, 1]
            report = verify_export(version_dir, formats=("onnx",))
            assert set(report["max_abs_diff"]) == {{"onnx_vs_keras"}}, report
            assert report["files_checked"] == len(gen.card["files"]), report
            print(json.dumps(report))
        try:
            verify_export({str(tampered)!r}, formats=("onnx",))
        except ExportError as e:
            assert "sha256" in str(e), e
        else:
            raise AssertionError("a modified parity_reference.npz passed verification")
        try:
            import keras  # noqa: F401  (ganzoo's post-import hook must not break or mask this)
        except ImportError:
            pass
        else:
            raise AssertionError("keras was importable")
        loaded = sorted(m for m in sys.modules if m.partition(".")[0] in ("keras", "tensorflow"))
        assert not loaded, loaded
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=subprocess_env(),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok") and proc.stdout.count("onnx_vs_keras") == len(shipped)
