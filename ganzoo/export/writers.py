"""Write an export: the TF Serving SavedModel and the ONNX file (TensorFlow, tf2onnx).

Both formats take `z` float32 [batch, latent_dim] and return `images` float32 NHWC in [-1, 1]
and `images_uint8` (round((x + 1) * 127.5) clipped to [0, 255]); a generator of vectors
(2-D toy data) returns `samples` float32 [batch, d] instead. Keras, TensorFlow, tf2onnx and
onnx are imported inside the functions that need them.
"""

import logging
import os
import shutil
import uuid

import numpy as np

from ganzoo.export.layout import (
    DEFAULT_OPSET,
    FORMATS,
    IMAGE_OUTPUTS,
    ONNX_FILENAME,
    REFERENCE_FILENAME,
    SAMPLE_SIGNATURE,
    SAMPLE_SIGNATURE_MAX,
    SERVING_SIGNATURE,
    TMP_PREFIX,
    VECTOR_OUTPUTS,
    ExportError,
    _claim_version,
    _model_card,
    _parity_latents,
    _publish,
    _write_card,
)
from ganzoo.export.verify import verify_export


def _tf_to_uint8(images):
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


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
    if isinstance(getattr(obj, "generator", None), keras.Model):
        generator, latent_dim, card = _from_ganzoo_model(obj, latent_dim, allow_untrained)
    elif isinstance(obj, keras.Model):
        generator = obj
        card = {"model": obj.name, "ema": False}
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
    return generator, _check_latent_dim(generator, latent_dim), card


def _from_ganzoo_model(obj, latent_dim, allow_untrained):
    """(generator, latent_dim, card fields) of a ganzoo model: its EMA generator when it has
    one; refused when it was never trained (unless `allow_untrained`)."""
    card = {}
    generator = obj.generator
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
    return generator, latent_dim, card


def _check_latent_dim(generator, latent_dim):
    """latent_dim as an int: the given one, checked against the generator's input, or inferred."""
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
    return int(latent_dim)


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
    formats = _check_arguments(directory, version, formats, opset, card)
    directory = os.fspath(directory)
    if _keras_backend() != "tensorflow":
        from ganzoo.export.via_tensorflow import export_in_tensorflow

        return export_in_tensorflow(model_or_generator, directory, version=version, formats=list(formats),
                                    latent_dim=latent_dim, overwrite=overwrite, atol=atol, opset=opset,
                                    card=card, allow_untrained=allow_untrained)
    generator, latent_dim, card_fields = _resolve(model_or_generator, latent_dim, allow_untrained)
    generator, z, reference, card_fields = _float32_reference(generator, latent_dim, dict(card_fields, **(card or {})))
    is_image = reference.ndim == 4
    version, final_dir = _claim_version(directory, version, overwrite)

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
        model_card = _model_card(directory, version, latent_dim, list(reference.shape[1:]), formats, int(opset),
                                 card_fields)
        _write_card(tmp_dir, model_card, parity)
        _publish(tmp_dir, final_dir, overwrite)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return final_dir


def _keras_backend():
    import keras

    return keras.backend.backend()


def _check_arguments(directory, version, formats, opset, card):
    """The export's formats as a tuple, after checking every argument that needs no model."""
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
    return formats


def _float32_reference(generator, latent_dim, card_fields):
    """(float32 generator, parity z, its float32 output, card fields): the output checked to be
    finite images in [-1, 1] or vectors; a mixed-precision generator's drift is recorded."""
    import keras

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
    if reference.ndim == 4 and np.abs(reference).max() > 1.0 + 1e-6:
        raise ExportError(
            f"The generator's images reach {np.abs(reference).max():.3f}, outside [-1, 1]: exported "
            "images are tanh outputs in [-1, 1]. End the generator with a tanh activation."
        )
    if mixed_policy is not None:
        card_fields["trained_dtype_policy"] = mixed_policy
        trained = keras.ops.convert_to_numpy(keras.ops.cast(trained_generator(z, training=False), "float32"))
        card_fields["float32_vs_trained_precision_max_abs_diff"] = float(np.abs(trained - reference).max())
    return generator, z, reference, card_fields
