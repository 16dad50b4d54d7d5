"""Export a trained generator for serving: a TF Serving SavedModel and an ONNX file.

Only the generator ships. One export is one version directory in TF Serving's layout:

    exported_models/NAME/            the base directory TF Serving watches (--model_base_path)
        3/                           one version (auto-incremented unless given)
            saved_model.pb           signatures `serving_default` (z -> images) and `sample`
            variables/               (num_samples, seed -> images)
            fingerprint.pb
            generator.onnx           the same network for ONNX Runtime (input `z` only)
            parity_reference.npz     the Keras generator's output on the fixed parity batch
            model.json               the model card, with the sha256 of every file above

Both formats take `z` float32 [batch, latent_dim] and return `images` float32 NHWC in [-1, 1]
and `images_uint8` (round((x + 1) * 127.5) clipped to [0, 255]); a generator of vectors
(2-D toy data) returns `samples` float32 [batch, d] instead.

The export is atomic: everything is written into `NAME/.tmp-export-*` (a name TF Serving never
loads, on the same filesystem), checked for parity (Keras vs SavedModel vs ONNX Runtime), and
only then renamed to `NAME/<version>`.

TensorFlow and Keras are imported only where needed: this module runs an `.onnx` export with
just `onnxruntime` and `numpy` (`import ganzoo` itself imports the Keras models, though).

Example:
    >>> path = ganzoo.export_generator(model, "exported_models/dcgan_mnist")
    >>> gen = ganzoo.export.load_exported("exported_models/dcgan_mnist")   # newest version
    >>> images = gen.generate(16, seed=0)                                  # (16, 28, 28, 1)
"""

import datetime
import hashlib
import json
import logging
import os
import platform
import shutil
import uuid

import numpy as np

FORMATS = ("saved_model", "onnx")
SERVING_SIGNATURE = "serving_default"
SAMPLE_SIGNATURE = "sample"
ONNX_FILENAME = "generator.onnx"
CARD_FILENAME = "model.json"
REFERENCE_FILENAME = "parity_reference.npz"
TMP_PREFIX = ".tmp-export-"
SAMPLE_SIGNATURE_MAX = 4096  # largest num_samples the `sample` signature accepts per request
DEFAULT_OPSET = 17
IMAGE_OUTPUTS = ("images", "images_uint8")
VECTOR_OUTPUTS = ("samples",)
# The parity batch: fixed, so an export can be re-verified later against the stored reference.
PARITY_BATCH = 8
PARITY_SEED = 20240917
# Card fields that describe the files themselves; extra card fields may not override them.
_COMPUTED_CARD_FIELDS = (
    "format_version", "name", "version", "latent_dim", "output_shape", "image_shape", "value_range",
    "outputs", "signatures", "onnx_opset", "versions", "parity", "files", "exported_at",
)


class ExportError(ValueError):
    """A generator that cannot be exported, or an export that is missing, corrupt or wrong."""


# --------------------------------------------------------------------------------- helpers
def to_uint8(images):
    """float images in [-1, 1] -> uint8 in [0, 255], exactly as the exported graphs do.

    round((x + 1) * 127.5), clipped; numpy, TF and ONNX all round half to even.
    """
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)


def _tf_to_uint8(images):
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def _parity_latents(latent_dim):
    return np.random.default_rng(PARITY_SEED).standard_normal((PARITY_BATCH, latent_dim)).astype(np.float32)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_table(version_dir):
    """{relative path: {"sha256", "bytes"}} for every file of an export except the card."""
    table = {}
    for root, _, files in os.walk(version_dir):
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, version_dir).replace(os.sep, "/")
            if rel != CARD_FILENAME:
                table[rel] = {"sha256": _sha256(path), "bytes": os.path.getsize(path)}
    return dict(sorted(table.items()))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _read_card(version_dir):
    path = os.path.join(version_dir, CARD_FILENAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ExportError(f"The model card {path} is not valid JSON ({e}); re-export the model.") from e


def _versions(base_dir):
    """Numeric version subdirectories of a base directory, as ints (TF Serving's rule)."""
    if not os.path.isdir(base_dir):
        return []
    return sorted(int(n) for n in os.listdir(base_dir)
                  if n.isdigit() and os.path.isdir(os.path.join(base_dir, n)))


def _is_version_dir(path):
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(os.path.join(path, ONNX_FILENAME))


# ------------------------------------------------------------------- what gets exported
def _float32_generator(generator):
    """The generator itself when every layer computes in float32, else a float32 clone.

    Mixed precision is a training-speed choice; a served generator should not depend on the
    GPU it was trained on, and ONNX/TF Serving on CPU have no fast float16 path anyway.
    """
    import keras

    low = {"float16", "bfloat16"}

    def all_layers(layer):
        yield layer
        for child in getattr(layer, "layers", []):
            yield from all_layers(child)

    layers = list(all_layers(generator))
    mixed = [l.name for l in layers if getattr(l, "compute_dtype", "float32") in low]
    mixed += [v.path for v in generator.weights if v.dtype in low]
    if not mixed:
        return generator, None

    def as_float32(layer):
        config = layer.get_config()
        config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    policy = getattr(generator.dtype_policy, "name", None) or str(mixed[0])
    try:
        clone = keras.models.clone_model(generator, clone_function=as_float32, recursive=True)
        clone.set_weights([np.asarray(w, dtype=np.float32) for w in generator.get_weights()])
    except Exception as e:
        raise ExportError(
            f"The generator computes in reduced precision (layers {mixed[:3]}...) and could not be "
            f"rebuilt in float32 for export ({e}). Rebuild it under the 'float32' dtype policy, "
            "load the trained weights into it, and export that."
        ) from e
    return clone, policy


def _resolve(model_or_generator, latent_dim, allow_untrained):
    """(generator, latent_dim, card fields) from a ganzoo model or a bare Keras generator."""
    import keras

    obj = model_or_generator
    card = {}
    generator = getattr(obj, "generator", None)
    if isinstance(generator, keras.Model):
        ema = getattr(obj, "ema_generator", None)
        card["model"] = type(obj).__name__
        card["ema"] = ema is not None
        if ema is not None:
            generator = ema
        model_latent = getattr(obj, "latent_dim", None)
        if latent_dim is not None and model_latent is not None and int(latent_dim) != int(model_latent):
            raise ExportError(f"latent_dim={latent_dim} was given but the model's latent_dim is {model_latent}.")
        latent_dim = model_latent if model_latent is not None else latent_dim
        if getattr(obj, "seed", None) is not None:
            card["seed"] = obj.seed
        untrained = None
        if hasattr(obj, "g_optimizer"):
            opt = obj.g_optimizer
            card["training_steps"] = None if opt is None else int(np.asarray(opt.iterations))
            if opt is None:
                untrained = "it was never compiled"
        if callable(getattr(obj, "config_for_card", None)):
            card.update(obj.config_for_card() or {})
        steps = card.get("training_steps")
        if steps == 0:
            untrained = "0 training steps"
        elif steps:
            untrained = None  # the card knows better, e.g. weights loaded from a trained run
        if untrained and not allow_untrained:
            raise ExportError(
                f"The {card['model']} has not been trained ({untrained}), so its generator makes "
                "noise. Train it first (model.fit), or pass allow_untrained=True to export it anyway "
                "(for example after loading trained weights into an uncompiled model)."
            )
    elif isinstance(obj, keras.Model):
        generator = obj
        card["model"] = obj.name
        card["ema"] = False
    else:
        raise ExportError(
            "export_generator takes a ganzoo model (with `.generator` and `.latent_dim`) or a Keras "
            f"generator model; got {type(obj).__name__}."
        )

    if not generator.built or not generator.weights:
        raise ExportError(
            f"The generator {generator.name!r} is not built (it has no weights yet). Build it with "
            "keras.Input((latent_dim,)) or call it once on a batch of z before exporting."
        )
    inferred = None
    try:
        shape = generator.input_shape
        if isinstance(shape, tuple) and len(shape) == 2 and shape[-1] is not None:
            inferred = int(shape[-1])
    except (AttributeError, ValueError):
        pass  # subclassed generators have no symbolic input; latent_dim= must be given
    if latent_dim is None:
        latent_dim = inferred
    if latent_dim is None:
        raise ExportError(
            "Cannot infer latent_dim from the generator's input; pass latent_dim= (the size of z)."
        )
    if inferred is not None and inferred != int(latent_dim):
        raise ExportError(f"latent_dim={latent_dim} does not match the generator's input shape {generator.input_shape}.")
    latent_dim = int(latent_dim)

    return generator, latent_dim, card


# ------------------------------------------------------------------------ the writers
def _serving_outputs(generator, z, is_image):
    """The exported graph's outputs for a z batch: the same in the SavedModel and the ONNX file."""
    import tensorflow as tf

    out = tf.cast(generator(z, training=False), tf.float32)
    if is_image:
        # The documented range, exactly: ONNX Runtime's Tanh can overshoot by one ulp.
        out = tf.clip_by_value(out, -1.0, 1.0)
        return {"images": out, "images_uint8": _tf_to_uint8(out)}
    return {"samples": out}


def _write_saved_model(generator, latent_dim, is_image, path):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")], autograph=False)
    def serve(z):
        return _serving_outputs(generator, z, is_image)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_samples"),
                                  tf.TensorSpec([], tf.int64, name="seed")], autograph=False)
    def sample(num_samples, seed):
        # Stateless: the same (num_samples, seed) gives the same samples on every server.
        checks = [
            tf.debugging.assert_positive(num_samples, message="num_samples must be positive"),
            # A typo in a request should not take the server's memory.
            tf.debugging.assert_less_equal(num_samples, SAMPLE_SIGNATURE_MAX,
                                           message=f"num_samples must be at most {SAMPLE_SIGNATURE_MAX}"),
        ]
        with tf.control_dependencies(checks):
            shape = tf.stack([num_samples, tf.constant(latent_dim, tf.int32)])
        z = tf.random.stateless_normal(shape, seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        return serve(z)

    # The module tracks exactly the tf.Variables the two graphs read. Tracking the Keras model
    # (or keras.export.ExportArchive, which tracks both the Keras variables and the tf.Variables
    # under them) stores every weight twice; a module holding only the Keras model stores them
    # in a way TF1-style loaders (saved_model_cli run, TF Serving) cannot restore.
    module = tf.Module()
    captured = {}
    for fn in (serve, sample):
        for variable in fn.get_concrete_function().variables:
            captured[id(variable)] = variable
    module.generator_variables = list(captured.values())
    module.serve = serve
    module.sample = sample
    tf.saved_model.save(module, path, signatures={SERVING_SIGNATURE: serve, SAMPLE_SIGNATURE: sample})


def _write_onnx(generator, latent_dim, is_image, path, opset):
    import onnx
    import tensorflow as tf
    import tf2onnx

    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")])
    def serve(z):
        return _serving_outputs(generator, z, is_image)

    tf2onnx_logger = logging.getLogger("tf2onnx")
    level = tf2onnx_logger.level
    tf2onnx_logger.setLevel(logging.ERROR)
    try:
        proto, _ = tf2onnx.convert.from_function(serve, input_signature=serve.input_signature, opset=opset)
    finally:
        tf2onnx_logger.setLevel(level)
    wanted = IMAGE_OUTPUTS if is_image else VECTOR_OUTPUTS
    got = [o.name for o in proto.graph.output]
    if sorted(got) != sorted(wanted):
        # tf2onnx names outputs after the dict keys today; if a version does not, rename in order.
        for output, name in zip(proto.graph.output, wanted):
            for node in proto.graph.node:
                node.output[:] = [name if o == output.name else o for o in node.output]
            output.name = name
    # Name the dynamic batch axis (tf2onnx calls it "unk__N").
    for value in list(proto.graph.input) + list(proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def _library_versions():
    import ganzoo

    versions = {"ganzoo": ganzoo.__version__, "python": platform.python_version()}
    for name in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # an optional runtime that is absent is simply not recorded
            versions[name] = None
    return versions


def export_generator(
    model_or_generator,
    directory,
    version=None,
    formats=FORMATS,
    *,
    latent_dim=None,
    overwrite=False,
    atol=1e-4,
    opset=DEFAULT_OPSET,
    card=None,
    allow_untrained=False,
):
    """Export a generator as a TF Serving SavedModel and/or ONNX, atomically, with a model card.

    Uses the EMA generator when the model has one, a float32 copy when it was trained with
    mixed precision, and inference mode (batch norm with its moving statistics). The export
    fails, leaving nothing behind, unless Keras, the SavedModel and ONNX Runtime agree within
    `atol` on a fixed latent batch.

    Args:
        model_or_generator: a ganzoo model (`.generator`, `.latent_dim`, optionally
            `.ema_generator` and `.config_for_card()`) or a built Keras generator model.
        directory: the model's base directory, e.g. "exported_models/dcgan_mnist"; the
            version is written to `directory/<version>/` (created if needed).
        version: positive int; None takes one more than the newest existing version (or 1).
        formats: any of ("saved_model", "onnx").
        latent_dim: size of z; inferred from the model or the generator's input when None.
        overwrite: replace an existing version directory instead of refusing.
        atol: largest allowed max-abs difference between Keras, SavedModel and ONNX outputs.
        opset: ONNX opset (>= 17).
        card: extra model-card fields, e.g. {"dataset": "mnist", "metrics": {"fid": 12.3}}.
        allow_untrained: export a ganzoo model that has no training steps (otherwise an error).

    Returns:
        The path of the new version directory.

    Raises:
        ExportError: unbuilt or untrained model, existing version, bad arguments, or a failed
            parity check.

    Example:
        >>> ganzoo.export_generator(model, "exported_models/dcgan_mnist", card={"dataset": "mnist"})
        'exported_models/dcgan_mnist/1'
    """
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if not formats or unknown:
        raise ExportError(f"formats must be a non-empty subset of {FORMATS}; got {formats!r}.")
    if version is not None and (isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1):
        raise ExportError(f"version must be a positive integer (TF Serving's version directories); got {version!r}.")
    if int(opset) < 17:
        raise ExportError(f"opset must be >= 17; got {opset}.")
    if card is not None and not isinstance(card, dict):
        raise ExportError(f"card must be a dict of extra model-card fields; got {type(card).__name__}.")
    directory = os.fspath(directory)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ExportError(f"The export directory {directory} exists and is not a directory.")

    import keras

    generator, latent_dim, card_fields = _resolve(model_or_generator, latent_dim, allow_untrained)
    trained_generator = generator
    generator, mixed_policy = _float32_generator(generator)

    z = _parity_latents(latent_dim)
    reference = keras.ops.convert_to_numpy(keras.ops.cast(generator(z, training=False), "float32"))
    if reference.ndim not in (2, 4):
        raise ExportError(
            f"The generator's output has shape {reference.shape}; exports take images (N, H, W, C) "
            "or vectors (N, d)."
        )
    if not np.all(np.isfinite(reference)):
        raise ExportError("The generator outputs NaN or inf on a normal latent batch (training diverged?).")
    is_image = reference.ndim == 4
    if is_image and np.abs(reference).max() > 1.0 + 1e-6:
        raise ExportError(
            f"The generator's images reach {np.abs(reference).max():.3f}, outside [-1, 1]: exported "
            "images are tanh outputs in [-1, 1]. End the generator with a tanh activation."
        )
    card_fields = dict(card_fields, **(card or {}))
    if mixed_policy is not None:
        card_fields["trained_dtype_policy"] = mixed_policy
        trained = keras.ops.convert_to_numpy(keras.ops.cast(trained_generator(z, training=False), "float32"))
        card_fields["float32_vs_trained_precision_max_abs_diff"] = float(np.abs(trained - reference).max())

    os.makedirs(directory, exist_ok=True)
    existing = _versions(directory)
    if version is None:
        version = (existing[-1] + 1) if existing else 1
    version = int(version)
    final_dir = os.path.join(directory, str(version))
    if os.path.exists(final_dir) and not overwrite:
        raise ExportError(
            f"{final_dir} already exists. Pick another version, omit version= to take the next "
            f"one ({(existing[-1] + 1) if existing else 1}), or pass overwrite=True."
        )

    tmp_dir = os.path.join(directory, f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}")
    os.makedirs(tmp_dir)
    try:
        np.savez(os.path.join(tmp_dir, REFERENCE_FILENAME), z=z, output=reference)
        if "saved_model" in formats:
            _write_saved_model(generator, latent_dim, is_image, tmp_dir)
        if "onnx" in formats:
            _write_onnx(generator, latent_dim, is_image, os.path.join(tmp_dir, ONNX_FILENAME), int(opset))
        parity = verify_export(tmp_dir, atol=atol, keras_generator=generator, latent_dim=latent_dim)
        parity.pop("files_checked")  # the card with the checksums is written just below
        shape = list(reference.shape[1:])
        outputs = IMAGE_OUTPUTS if is_image else VECTOR_OUTPUTS
        model_card = {
            "format_version": 1,
            "name": os.path.basename(os.path.abspath(directory)),
            "version": version,
            "model": None,
            "dataset": None,
            "latent_dim": latent_dim,
            "output_shape": shape,
            "image_shape": shape if is_image else None,
            "value_range": [-1.0, 1.0] if is_image else None,
            "outputs": {
                name: {"dtype": "uint8" if name == "images_uint8" else "float32", "shape": [None] + shape}
                for name in outputs
            },
            "signatures": {
                SERVING_SIGNATURE: {"z": ["float32", [None, latent_dim]]},
                SAMPLE_SIGNATURE: {"num_samples": ["int32", []], "seed": ["int64", []]},
            } if "saved_model" in formats else {},
            "onnx_opset": int(opset) if "onnx" in formats else None,
            "training_steps": None,
            "seed": None,
            "metrics": None,
            "ema": False,
        }
        model_card.update({k: v for k, v in card_fields.items() if k not in _COMPUTED_CARD_FIELDS})
        model_card.update(
            versions=_library_versions(),
            parity=parity,
            exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            files=_file_table(tmp_dir),
        )
        with open(os.path.join(tmp_dir, CARD_FILENAME), "w") as f:
            json.dump(model_card, f, indent=2, default=_json_default)
        _publish(tmp_dir, final_dir, overwrite)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return final_dir


def _publish(tmp_dir, final_dir, overwrite):
    """Rename the finished export into place: TF Serving sees a whole version or none."""
    old = None
    if overwrite and os.path.exists(final_dir):
        # Move the old version aside first (rename cannot replace a non-empty directory).
        old = f"{os.path.dirname(final_dir)}/{TMP_PREFIX}old-{uuid.uuid4().hex[:12]}"
        os.rename(final_dir, old)
    try:
        os.rename(tmp_dir, final_dir)
    except OSError as e:
        if old is not None:
            os.rename(old, final_dir)
        raise ExportError(
            f"Could not move the export into {final_dir} ({e}); another export probably created it "
            "meanwhile. Export again (the version is chosen afresh)."
        ) from e
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------- the loaders
def _onnx_session(path):
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ExportError("Loading an .onnx export needs onnxruntime: pip install onnxruntime") from e
    if not os.path.isfile(path):
        raise ExportError(f"No ONNX file at {path}.")
    try:
        return ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ExportError(f"{path} is not a valid ONNX model ({type(e).__name__}: {e}). Re-export the generator.") from e


def _load_saved_model(path):
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(path)
        serve = loaded.signatures[SERVING_SIGNATURE]
    except KeyError as e:
        raise ExportError(f"The SavedModel at {path} has no {SERVING_SIGNATURE!r} signature; it is not a ganzoo export.") from e
    except Exception as e:
        raise ExportError(f"Could not load the SavedModel at {path} ({type(e).__name__}: {e}). Re-export the generator.") from e
    return loaded, serve


class ExportedGenerator:
    """A generator loaded from an export, run by ONNX Runtime or TensorFlow.

    Attributes:
        latent_dim: size of z.
        output_shape: shape of one sample, e.g. (28, 28, 1).
        card: the model card (dict) or None when the export has none.
        backend: "onnx" or "saved_model".
        path: the file or directory that is run.
    """

    def __init__(self, path, backend, card=None):
        self.path = path
        self.backend = backend
        self.card = card
        if backend == "onnx":
            self._session = _onnx_session(path)
            inputs = self._session.get_inputs()
            if [i.name for i in inputs] != ["z"]:
                raise ExportError(f"{path} takes inputs {[i.name for i in inputs]}; a ganzoo export takes only 'z'.")
            self._outputs = [o.name for o in self._session.get_outputs()]
            self.latent_dim = int(inputs[0].shape[1])
            self.output_shape = tuple(int(d) for d in self._session.get_outputs()[0].shape[1:])
        else:
            self._loaded, self._serve = _load_saved_model(path)
            spec = self._serve.structured_input_signature[1].get("z")
            if spec is None:
                raise ExportError(f"The SavedModel at {path} does not take an input named 'z'.")
            self._outputs = sorted(self._serve.structured_outputs)
            self.latent_dim = int(spec.shape[1])
            first = self._serve.structured_outputs[self._outputs[0]]
            self.output_shape = tuple(int(d) for d in first.shape[1:])
        self._float_output = "images" if "images" in self._outputs else "samples"
        if self._float_output not in self._outputs:
            raise ExportError(f"{path} has outputs {self._outputs}; a ganzoo export has 'images' or 'samples'.")

    def __repr__(self):
        return (f"ExportedGenerator(path={self.path!r}, backend={self.backend!r}, "
                f"latent_dim={self.latent_dim}, output_shape={self.output_shape})")

    def generate(self, n_or_z, seed=None, batch_size=256):
        """Samples as float32 numpy, images in [-1, 1].

        Args:
            n_or_z: a number of samples, or z of shape (n, latent_dim).
            seed: seed of numpy's default_rng for z when `n_or_z` is a number (same seed,
                same samples with either backend); None draws fresh noise.
            batch_size: largest batch run at once.
        """
        if isinstance(n_or_z, (int, np.integer)) and not isinstance(n_or_z, bool):
            if n_or_z <= 0:
                raise ValueError(f"The number of samples must be positive; got {n_or_z}.")
            z = np.random.default_rng(seed).standard_normal((int(n_or_z), self.latent_dim)).astype(np.float32)
        else:
            z = np.asarray(n_or_z, dtype=np.float32)
            if z.ndim != 2 or z.shape[1] != self.latent_dim:
                raise ValueError(
                    f"generate() takes a number of samples or z of shape (n, {self.latent_dim}); got shape {z.shape}."
                )
        parts = [self._run(z[i : i + batch_size]) for i in range(0, len(z), batch_size)]
        if not parts:
            return np.zeros((0,) + self.output_shape, np.float32)
        return np.concatenate(parts, axis=0)

    def _run(self, z):
        if self.backend == "onnx":
            return self._session.run([self._float_output], {"z": z})[0]
        return self._serve(z=z)[self._float_output].numpy()

    def run_all(self, z):
        """Every output of the exported graph on z, as {name: numpy array}."""
        z = np.asarray(z, dtype=np.float32)
        if self.backend == "onnx":
            return dict(zip(self._outputs, self._session.run(self._outputs, {"z": z})))
        return {k: v.numpy() for k, v in self._serve(z=z).items()}


def _resolve_export_path(path):
    """(version_dir or None, onnx file or None, saved_model dir or None) for any export path."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ExportError(f"No export at {path}.")
    if os.path.isfile(path):
        if not path.endswith(".onnx"):
            raise ExportError(f"{path} is a file but not an .onnx model; give an .onnx file or an export directory.")
        return os.path.dirname(path) or ".", path, None
    if not _is_version_dir(path):
        versions = _versions(path)
        if not versions:
            raise ExportError(
                f"{path} holds no export: expected saved_model.pb or {ONNX_FILENAME}, or numeric version "
                "subdirectories (exported_models/NAME/<version>/)."
            )
        path = os.path.join(path, str(versions[-1]))
        if not _is_version_dir(path):
            raise ExportError(f"The newest version {path} holds neither saved_model.pb nor {ONNX_FILENAME}.")
    onnx_path = os.path.join(path, ONNX_FILENAME)
    onnx_path = onnx_path if os.path.isfile(onnx_path) else None
    sm_dir = path if os.path.isfile(os.path.join(path, "saved_model.pb")) else None
    return path, onnx_path, sm_dir


def list_exports(path):
    """The version directories at `path`, oldest first.

    Args:
        path: a version directory (returned alone) or a base directory such as
            "exported_models/dcgan_mnist" (its numeric versions).

    Returns:
        A list of paths, empty when `path` holds no export.
    """
    path = os.fspath(path)
    if os.path.isdir(path) and _is_version_dir(path):
        return [path]
    return [os.path.join(path, str(v)) for v in _versions(path)]


def _check_files(version_dir, card, names=None):
    """Compare the card's sha256 of each file (or of `names`) with the file on disk."""
    files = (card or {}).get("files") or {}
    for rel, entry in files.items():
        if names is not None and rel not in names:
            continue
        path = os.path.join(version_dir, rel)
        if not os.path.isfile(path):
            raise ExportError(f"{path} is listed in the model card but missing; re-export the model.")
        if _sha256(path) != entry.get("sha256"):
            raise ExportError(f"{path} does not match the sha256 in the model card: it is corrupt or was modified.")
    return len(files)


def load_exported(path, backend=None):
    """Load an export for sampling.

    Args:
        path: a version directory (`exported_models/NAME/3`), a base directory (its newest
            version), a SavedModel directory, or an `.onnx` file.
        backend: "onnx", "saved_model", or None for ONNX Runtime when the export has an ONNX
            file (it does not import TensorFlow) and the SavedModel otherwise.

    Returns:
        An `ExportedGenerator` with `.latent_dim`, `.output_shape`, `.card` and `.generate()`.

    Raises:
        ExportError: missing path, no export in it, a file that does not match its model
            card's sha256, or a corrupt model.

    Example:
        >>> gen = load_exported("exported_models/dcgan_mnist")
        >>> images = gen.generate(16, seed=0)   # float32 (16, 28, 28, 1) in [-1, 1]
    """
    if backend not in (None, "onnx", "saved_model"):
        raise ExportError(f"backend must be 'onnx', 'saved_model' or None; got {backend!r}.")
    version_dir, onnx_path, sm_dir = _resolve_export_path(path)
    card = _read_card(version_dir) if version_dir is not None else None
    if backend is None:
        backend = "onnx" if onnx_path is not None else "saved_model"
    if backend == "onnx":
        if onnx_path is None:
            raise ExportError(f"{path} has no ONNX model ({ONNX_FILENAME}); use backend='saved_model'.")
        _check_files(version_dir, card, names={os.path.basename(onnx_path)})
        generator = ExportedGenerator(onnx_path, "onnx", card)
    else:
        if sm_dir is None:
            raise ExportError(f"{path} has no SavedModel (saved_model.pb); use backend='onnx'.")
        _check_files(sm_dir, card, names={"saved_model.pb", "variables/variables.index",
                                          "variables/variables.data-00000-of-00001"})
        generator = ExportedGenerator(sm_dir, "saved_model", card)
    if card is None and version_dir is not None:
        _check_against_reference(generator, version_dir)
    return generator


def _check_against_reference(generator, version_dir, atol=1e-4):
    """Without a model card (and its sha256 sums) the stored parity batch is what vouches for
    the files: the loaded model must reproduce it as the export's own check did."""
    reference_path = os.path.join(version_dir, REFERENCE_FILENAME)
    if not os.path.isfile(reference_path):
        return
    try:
        with np.load(reference_path) as stored:
            z, expected = stored["z"], stored["output"]
    except Exception as e:
        raise ExportError(f"{reference_path} cannot be read ({type(e).__name__}: {e}); re-export the model.") from e
    output = generator.generate(z) if z.shape[1:] == (generator.latent_dim,) else None
    if output is None or output.shape != expected.shape:
        raise ExportError(f"{generator.path} does not fit its {reference_path} (other shapes): it is corrupt or "
                          "was modified; re-export the model.")
    diff = float(np.abs(output.astype(np.float64) - expected).max())
    if not diff <= atol:
        raise ExportError(
            f"{generator.path} has no model card ({CARD_FILENAME}) to check it against, and its output differs "
            f"from {REFERENCE_FILENAME} by {diff:.3g} (allowed {atol}): it is corrupt or was modified; re-export "
            "the model."
        )


def find_export(directory, checkpoint_sha256):
    """The newest version under `directory` whose model card names the checkpoint with this
    sha256 (`card["checkpoint"]["sha256"]`, written by `ganzoo train --export`), or None."""
    for version_dir in reversed(list_exports(directory)):
        try:
            card = _read_card(version_dir) or {}
        except ExportError:
            continue  # a damaged card vouches for nothing
        if (card.get("checkpoint") or {}).get("sha256") == checkpoint_sha256:
            return version_dir
    return None


# ---------------------------------------------------------------------------- parity
def verify_export(version_dir, atol=1e-4, keras_generator=None, latent_dim=None):
    """Check that the formats of one export agree on a fixed latent batch.

    Compares, pairwise, the Keras generator (`keras_generator`, else the reference output
    stored at export time), the SavedModel's `serving_default` and ONNX Runtime; checks each
    format's `images_uint8` against its own float output, and across formats exactly except
    where the float is within `atol` of a rounding boundary; checks that the `sample`
    signature is deterministic and equals `serving_default` on the same stateless z; and
    checks every file against the model card's sha256.

    Args:
        version_dir: one version directory of an export.
        atol: largest allowed max-abs difference of the float outputs.
        keras_generator: the Keras generator that was exported, if at hand.
        latent_dim: size of z; read from the export when None.

    Returns:
        {"max_abs_diff": {"saved_model_vs_keras": ..., "onnx_vs_keras": ...,
        "onnx_vs_saved_model": ...}, "uint8_mismatches": int, "uint8_boundary_values": int,
        "batch": 8, "atol": atol, "files_checked": int}

    Raises:
        ExportError: a difference above `atol`, a file that fails its checksum, or no export.
    """
    version_dir = os.fspath(version_dir)
    if not os.path.isdir(version_dir) or not _is_version_dir(version_dir):
        raise ExportError(f"{version_dir} is not an export version directory (no saved_model.pb or {ONNX_FILENAME}).")
    card = _read_card(version_dir)
    files_checked = _check_files(version_dir, card)

    onnx_path = os.path.join(version_dir, ONNX_FILENAME)
    runners = {}
    if os.path.isfile(os.path.join(version_dir, "saved_model.pb")):
        runners["saved_model"] = ExportedGenerator(version_dir, "saved_model", card)
    if os.path.isfile(onnx_path):
        runners["onnx"] = ExportedGenerator(onnx_path, "onnx", card)
    if latent_dim is None:
        latent_dim = next(iter(runners.values())).latent_dim

    outputs = {}
    reference_path = os.path.join(version_dir, REFERENCE_FILENAME)
    if keras_generator is not None:
        import keras

        z = _parity_latents(latent_dim)
        outputs["keras"] = keras.ops.convert_to_numpy(keras.ops.cast(keras_generator(z, training=False), "float32"))
    elif os.path.isfile(reference_path):
        stored = np.load(reference_path)
        z, outputs["keras"] = stored["z"], stored["output"]
    else:
        z = _parity_latents(latent_dim)
    uint8s = {}
    for name, runner in runners.items():
        if runner.latent_dim != latent_dim:
            raise ExportError(f"The {name} model takes z of size {runner.latent_dim}, expected {latent_dim}.")
        result = runner.run_all(z)
        float_name = runner._float_output
        outputs[name] = result[float_name]
        if "images_uint8" in result:
            uint8s[name] = result["images_uint8"]
            own = to_uint8(result[float_name])
            if not np.array_equal(own, result["images_uint8"]):
                raise ExportError(
                    f"The {name} model's images_uint8 is not round((images + 1) * 127.5) of its own images "
                    f"({int((own != result['images_uint8']).sum())} values differ)."
                )

    names = [n for n in ("keras", "saved_model", "onnx") if n in outputs]
    diffs = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if outputs[a].shape != outputs[b].shape:
                raise ExportError(f"{b} outputs shape {outputs[b].shape} but {a} outputs {outputs[a].shape}.")
            diffs[f"{b}_vs_{a}"] = float(np.abs(outputs[a] - outputs[b]).max())

    # The uint8 outputs may differ by one only where the float sits within atol of x.5 after
    # scaling: there two floats that agree within atol can round to neighbouring integers.
    mismatches, boundary = 0, 0
    if uint8s and names:
        scaled = (outputs[names[0]].astype(np.float64) + 1.0) * 127.5
        near = np.abs(scaled - np.floor(scaled) - 0.5) <= atol * 127.5
        boundary = int(near.sum())
        expected = to_uint8(outputs[names[0]])
        for name, u8 in uint8s.items():
            delta = np.abs(u8.astype(np.int16) - expected.astype(np.int16))
            mismatches += int(((delta > 0) & ~near).sum() + (delta > 1).sum())

    if "saved_model" in runners:
        _check_sample_signature(runners["saved_model"], latent_dim)

    report = {
        "max_abs_diff": diffs,
        "uint8_mismatches": mismatches,
        "uint8_boundary_values": boundary,
        "batch": int(len(z)),
        "atol": float(atol),
        "files_checked": files_checked,
    }
    too_far = {k: v for k, v in diffs.items() if not v <= atol}
    if too_far or mismatches:
        raise ExportError(
            f"Parity check failed for {version_dir}: max abs differences {too_far or diffs} (allowed "
            f"{atol}), {mismatches} uint8 values differ away from rounding boundaries. Report: {report}"
        )
    return report


def _check_sample_signature(runner, latent_dim):
    import tensorflow as tf

    sample = runner._loaded.signatures.get(SAMPLE_SIGNATURE)
    if sample is None:
        raise ExportError(f"The SavedModel at {runner.path} has no {SAMPLE_SIGNATURE!r} signature.")
    n, seed = 3, 7
    first = sample(num_samples=tf.constant(n, tf.int32), seed=tf.constant(seed, tf.int64))
    second = sample(num_samples=tf.constant(n, tf.int32), seed=tf.constant(seed, tf.int64))
    z = tf.random.stateless_normal([n, latent_dim], seed=tf.constant([seed, 0], tf.int64))
    direct = runner._serve(z=z)
    for key, value in first.items():
        if value.shape[0] != n or not np.array_equal(value.numpy(), second[key].numpy()):
            raise ExportError(f"The {SAMPLE_SIGNATURE!r} signature is not deterministic for output {key!r}.")
        if np.abs(value.numpy().astype(np.float64) - direct[key].numpy().astype(np.float64)).max() > 1e-5:
            raise ExportError(f"The {SAMPLE_SIGNATURE!r} signature disagrees with {SERVING_SIGNATURE!r} on the same z.")
