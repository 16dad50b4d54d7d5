"""Write an export: the TF Serving SavedModel and the ONNX file (TensorFlow, tf2onnx).

Both formats take `z` float32 [batch, latent_dim] (and, for a conditional generator, `label`
int32 [batch] in [0, num_classes)) and return `images` float32 NHWC in [-1, 1]
and `images_uint8` (round((x + 1) * 127.5) clipped to [0, 255]); a generator of vectors
(2-D toy data) returns `samples` float32 [batch, d] instead. Keras, TensorFlow, tf2onnx and
onnx are imported inside the functions that need them.
"""

import logging
import os
import shutil
import uuid

import numpy as np

from ganzoo.export.generator import _conditioning, _float32_reference, _resolve
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
    _claim_version,
    _model_card,
    check_base_dir,
    check_same_model,
    _publish,
    _write_card,
)
from ganzoo.errors import ExportError
from ganzoo.export.verify import prior_labels_tf, verify_export


def _tf_to_uint8(images):
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def _serving_outputs(generator, inputs, is_image):
    """The exported graph's outputs for z (or [z, label]): the same in the SavedModel and ONNX."""
    import tensorflow as tf

    out = tf.cast(generator(inputs, training=False), tf.float32)
    if is_image:
        # The documented range, exactly: ONNX Runtime's Tanh can overshoot by one ulp.
        out = tf.clip_by_value(out, -1.0, 1.0)
        return {"images": out, "images_uint8": _tf_to_uint8(out)}
    return {"samples": out}


def _input_signature(latent_dim, num_classes):
    import tensorflow as tf

    z = tf.TensorSpec([None, latent_dim], tf.float32, name="z")
    return [z] if num_classes is None else [z, tf.TensorSpec([None], tf.int32, name="label")]


def _serving_function(generator, latent_dim, is_image, num_classes, check_labels):
    """tf.function serving z (or z and label); `check_labels` asserts labels in [0, num_classes)
    (TF Serving: an out-of-range label is a request error, not a silent zero embedding on GPU)."""
    import tensorflow as tf

    if num_classes is None:
        return tf.function(lambda z: _serving_outputs(generator, z, is_image),
                           input_signature=_input_signature(latent_dim, None), autograph=False)

    def serve(z, label):
        if check_labels:
            checks = [tf.debugging.assert_non_negative(label, message="label must be >= 0"),
                      tf.debugging.assert_less(label, tf.constant(num_classes, tf.int32),
                                               message=f"label must be < num_classes = {num_classes}")]
            with tf.control_dependencies(checks):
                label = tf.identity(label)
        return _serving_outputs(generator, [z, label], is_image)

    return tf.function(serve, input_signature=_input_signature(latent_dim, num_classes), autograph=False)


def _write_saved_model(generator, latent_dim, is_image, path, num_classes=None, label_prior=None):
    import tensorflow as tf

    serve = _serving_function(generator, latent_dim, is_image, num_classes, check_labels=True)
    sample_signature = [tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([], tf.int64, name="seed")]
    if num_classes is not None and label_prior is None:
        sample_signature.append(tf.TensorSpec([], tf.int32, name="label"))

    @tf.function(input_signature=sample_signature, autograph=False)
    def sample(num_samples, seed, label=None):
        # Stateless: the same (num_samples, seed[, label]) gives the same samples on every server.
        checks = [
            tf.debugging.assert_positive(num_samples, message="num_samples must be positive"),
            # A typo in a request should not take the server's memory.
            tf.debugging.assert_less_equal(num_samples, SAMPLE_SIGNATURE_MAX,
                                           message=f"num_samples must be at most {SAMPLE_SIGNATURE_MAX}"),
        ]
        with tf.control_dependencies(checks):
            shape = tf.stack([num_samples, tf.constant(latent_dim, tf.int32)])
        z = tf.random.stateless_normal(shape, seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        if num_classes is None:
            return serve(z)
        if label_prior is not None:  # a model on clusters: each sample's cluster drawn from its share
            return serve(z, prior_labels_tf(label_prior, num_samples, seed))
        return serve(z, tf.fill([num_samples], label))  # every sample of the one class asked

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


def _write_onnx(generator, latent_dim, is_image, path, opset, num_classes=None):
    import onnx
    import tf2onnx

    # No label assertions in the ONNX graph (no ONNX op for them): ONNX Runtime's Gather
    # refuses an out-of-range label itself, and ExportedGenerator checks labels first.
    serve = _serving_function(generator, latent_dim, is_image, num_classes, check_labels=False)
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


def export_generator(model_or_generator, directory, version=None, formats=FORMATS, *, latent_dim=None,
                     overwrite=False, atol=1e-4, opset=DEFAULT_OPSET, card=None, allow_untrained=False,
                     class_names=None, replace_model=False):
    """Export a generator as a TF Serving SavedModel and/or ONNX, atomically, with a model card.

    Uses the EMA generator when the model has one, a float32 copy when it was trained with
    mixed precision, and inference mode (batch norm with its moving statistics). The export
    fails, leaving nothing behind, unless Keras, the SavedModel and ONNX Runtime agree within
    `atol` on a fixed latent batch.

    Args:
        model_or_generator: a ganzoo model (`.generator`, `.latent_dim`, optionally
            `.ema_generator`) or a built Keras generator model.
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
        class_names: for a conditional generator ([z, label] -> samples): the name of each
            label, in label order (default "0", "1", ...); the card lists them.
        replace_model: export into a base directory whose newest version holds another model
            (class, latent size, output shape or classes); refused otherwise, since TF Serving
            would switch its clients to the new one.

    Returns:
        The path of the new version directory.

    Raises:
        ExportError: unbuilt or untrained model, existing version, another model in the base
            directory, bad arguments, or a failed parity check.

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
                                    card=card, allow_untrained=allow_untrained, class_names=class_names,
                                    replace_model=replace_model)
    generator, latent_dim, card_fields = _resolve(model_or_generator, latent_dim, allow_untrained)
    card_fields = dict(card_fields, **(card or {}))
    classes = _conditioning(generator, class_names, card_fields)
    generator, inputs, reference, card_fields = _float32_reference(generator, latent_dim, card_fields, classes[0])
    check_base_dir(directory)
    check_same_model(directory, {"model": card_fields.get("model"), "latent_dim": latent_dim,
                                 "output_shape": list(reference.shape[1:]), "num_classes": classes[0]}, replace_model)
    version, final_dir = _claim_version(directory, version, overwrite)
    written = dict(generator=generator, inputs=inputs, reference=reference, classes=classes, latent_dim=latent_dim)
    return _write_and_publish(directory, version, final_dir, overwrite, formats, int(opset), atol, card_fields, written)


def _write_and_publish(directory, version, final_dir, overwrite, formats, opset, atol, card_fields, written):
    """Write the version into a temporary directory, check parity, write the card, publish
    atomically; nothing is left behind on failure."""
    generator, inputs, reference = written["generator"], written["inputs"], written["reference"]
    classes, latent_dim = written["classes"], written["latent_dim"]
    tmp_dir = os.path.join(directory, f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}")
    os.makedirs(tmp_dir)
    try:
        prior = card_fields.get("label_prior")
        _write_version(tmp_dir, generator, inputs, reference, formats, opset, classes[0], prior)
        parity = verify_export(tmp_dir, atol=atol, keras_generator=generator, latent_dim=latent_dim, label_prior=prior)
        parity.pop("files_checked")  # the card with the checksums is written just below
        model_card = _model_card(directory, version, latent_dim, list(reference.shape[1:]), formats, opset,
                                 card_fields, classes)
        _write_card(tmp_dir, model_card, parity)
        _publish(tmp_dir, final_dir, overwrite)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return final_dir


def _write_version(tmp_dir, generator, inputs, reference, formats, opset, num_classes, label_prior=None):
    """The parity reference and the asked formats, into the export's temporary directory."""
    z, labels = (inputs, None) if num_classes is None else inputs
    latent_dim, is_image = int(z.shape[1]), reference.ndim == 4
    stored = dict(z=z, output=reference) if labels is None else dict(z=z, label=labels, output=reference)
    np.savez(os.path.join(tmp_dir, REFERENCE_FILENAME), **stored)
    if "saved_model" in formats:
        _write_saved_model(generator, latent_dim, is_image, tmp_dir, num_classes, label_prior)
    if "onnx" in formats:
        _write_onnx(generator, latent_dim, is_image, os.path.join(tmp_dir, ONNX_FILENAME), opset, num_classes)


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


