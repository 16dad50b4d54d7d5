"""Re-check an export: every file against the model card's sha256, and the formats against
each other and against the Keras output stored at export time (`parity_reference.npz`).

With `formats=("onnx",)` the check needs only numpy and onnxruntime.
"""

import os

import numpy as np

from ganzoo.export.layout import (
    CARD_FILENAME,
    FORMATS,
    ONNX_FILENAME,
    REFERENCE_FILENAME,
    SAMPLE_SIGNATURE,
    SERVING_SIGNATURE,
    _check_files,
    _is_version_dir,
    _parity_labels,
    _parity_latents,
    _read_card,
    vouched_files,
)
from ganzoo.errors import ExportError
from ganzoo.export.runtime import SAVED_MODEL_FILES, ExportedGenerator
from ganzoo.images import to_uint8


def verify_export(version_dir, atol=1e-4, keras_generator=None, latent_dim=None, formats=None, label_prior=None):
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
        formats: the formats to run, e.g. ("onnx",) to check with numpy and onnxruntime only
            (no TensorFlow); None: every format the export holds.
        label_prior: the label prior the `sample` signature draws from (before the card that
            holds it is written); None: the card's.

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
    if card is None and keras_generator is None:
        raise ExportError(f"{version_dir} has no model card ({CARD_FILENAME}): nothing vouches for its files, and a "
                          "SavedModel is a program. Re-export the model.")
    files_checked = _check_files(version_dir, card)
    runners = _runners(version_dir, card, formats, vouched=keras_generator is None)
    first = next(iter(runners.values()))
    latent_dim = first.latent_dim if latent_dim is None else latent_dim
    z, labels, outputs = _keras_output(version_dir, keras_generator, latent_dim, first.conditional)
    uint8s = _run_formats(runners, z, labels, latent_dim, outputs)
    names = [n for n in ("keras", "saved_model", "onnx") if n in outputs]
    diffs = _pairwise_differences(outputs, names)
    mismatches, boundary = _uint8_mismatches(uint8s, outputs[names[0]] if names else None, atol)
    if "saved_model" in runners:
        runner = runners["saved_model"]
        _check_sample_signature(runner, latent_dim, label_prior if label_prior is not None else runner.label_prior)

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


def _pairwise_differences(outputs, names):
    """{"b_vs_a": max abs difference} for every pair of the formats' float outputs."""
    diffs = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if outputs[a].shape != outputs[b].shape:
                raise ExportError(f"{b} outputs shape {outputs[b].shape} but {a} outputs {outputs[a].shape}.")
            diffs[f"{b}_vs_{a}"] = float(np.abs(outputs[a] - outputs[b]).max())
    return diffs


def _runners(version_dir, card, formats, vouched=True):
    """{format: ExportedGenerator} for the formats the export holds (of `formats`, if given);
    with `vouched`, each only when the card lists its files (checked by their sha256)."""
    if formats is not None:
        formats = (formats,) if isinstance(formats, str) else tuple(formats)
        unknown = [f for f in formats if f not in FORMATS]
        if not formats or unknown:
            raise ExportError(f"formats must be a non-empty subset of {FORMATS}; got {formats!r}.")
    runners = {}
    onnx_path = os.path.join(version_dir, ONNX_FILENAME)
    for name, files in (("saved_model", SAVED_MODEL_FILES), ("onnx", (ONNX_FILENAME,))):
        if not os.path.isfile(os.path.join(version_dir, files[0])) or (formats is not None and name not in formats):
            continue
        if vouched and not vouched_files(version_dir, card, files):
            raise ExportError(f"{version_dir}: its {CARD_FILENAME} does not list the {name} files ({', '.join(files)}), "
                              "so nothing vouches for them. Re-export the model.")
        runners[name] = ExportedGenerator(version_dir if name == "saved_model" else onnx_path, name, card)
    if not runners:
        raise ExportError(f"{version_dir} holds none of the formats {formats!r}.")
    return runners


def _keras_output(version_dir, keras_generator, latent_dim, conditional):
    """(z, labels or None, {"keras": output}): the parity batch (and the stored labels of a
    conditional export), with the output of the Keras generator at hand, else the stored
    reference output; {} when there is neither."""
    reference_path = os.path.join(version_dir, REFERENCE_FILENAME)
    z, labels, outputs = _parity_latents(latent_dim), None, {}
    if os.path.isfile(reference_path):
        with np.load(reference_path) as stored:
            labels = stored["label"] if "label" in stored else None
            if (labels is not None) != conditional:
                raise ExportError(f"{reference_path} does not fit the export (labels in one, not the other).")
            z, outputs = stored["z"], {"keras": stored["output"]}
    elif conditional:  # parity labels 0, 1, 0, ...: valid for any conditional generator
        labels = _parity_labels(int((_read_card(version_dir) or {}).get("num_classes") or 2))
    if keras_generator is not None:
        import keras

        inputs = z if labels is None else [z, labels]
        outputs = {"keras": keras.ops.convert_to_numpy(keras.ops.cast(keras_generator(inputs, training=False),
                                                                      "float32"))}
    return z, labels, outputs


def _run_formats(runners, z, labels, latent_dim, outputs):
    """Run every format on z (and labels), adding its float output to `outputs`; returns
    {format: images_uint8} after checking each format's uint8 output against its own float output."""
    uint8s = {}
    for name, runner in runners.items():
        if runner.latent_dim != latent_dim:
            raise ExportError(f"The {name} model takes z of size {runner.latent_dim}, expected {latent_dim}.")
        result = runner.run_all(z, labels)
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
    return uint8s


def _uint8_mismatches(uint8s, first_output, atol):
    """(uint8 values that differ away from a rounding boundary, values near one).

    The uint8 outputs may differ by one only where the float sits within atol of x.5 after
    scaling: there two floats that agree within atol can round to neighbouring integers."""
    mismatches, boundary = 0, 0
    if uint8s and first_output is not None:
        scaled = (first_output.astype(np.float64) + 1.0) * 127.5
        near = np.abs(scaled - np.floor(scaled) - 0.5) <= atol * 127.5
        boundary = int(near.sum())
        expected = to_uint8(first_output)
        for name, u8 in uint8s.items():
            delta = np.abs(u8.astype(np.int16) - expected.astype(np.int16))
            mismatches += int(((delta > 0) & ~near).sum() + (delta > 1).sum())
    return mismatches, boundary


def prior_labels_tf(prior, num_samples, seed):
    """int32 (num_samples,) labels drawn from `prior` statelessly with seed (seed, 1): how a
    SavedModel's `sample` signature picks the cluster of each sample (z uses (seed, 0))."""
    import tensorflow as tf

    logits = tf.math.log(tf.constant([prior], tf.float32))  # a class of prior 0: logit -inf, never drawn
    seeds = tf.stack([tf.cast(seed, tf.int64), tf.constant(1, tf.int64)])
    return tf.cast(tf.reshape(tf.random.stateless_categorical(logits, num_samples, seed=seeds), [-1]), tf.int32)


def _check_sample_signature(runner, latent_dim, label_prior=None):
    import tensorflow as tf

    sample = runner._loaded.signatures.get(SAMPLE_SIGNATURE)
    if sample is None:
        raise ExportError(f"The SavedModel at {runner.path} has no {SAMPLE_SIGNATURE!r} signature.")
    n, seed = 3, 7
    request = dict(num_samples=tf.constant(n, tf.int32), seed=tf.constant(seed, tf.int64))
    z = tf.random.stateless_normal([n, latent_dim], seed=tf.constant([seed, 0], tf.int64))
    direct_inputs = {"z": z}
    if runner.conditional and label_prior is not None:  # each sample's label drawn from the prior
        direct_inputs["label"] = prior_labels_tf(label_prior, n, tf.constant(seed, tf.int64))
    elif runner.conditional:  # every sample of the one class asked: the last class
        label = (runner.num_classes or 2) - 1
        request["label"] = tf.constant(label, tf.int32)
        direct_inputs["label"] = tf.fill([n], tf.constant(label, tf.int32))
    first, second = sample(**request), sample(**request)
    direct = runner._serve(**direct_inputs)
    for key, value in first.items():
        if value.shape[0] != n or not np.array_equal(value.numpy(), second[key].numpy()):
            raise ExportError(f"The {SAMPLE_SIGNATURE!r} signature is not deterministic for output {key!r}.")
        if np.abs(value.numpy().astype(np.float64) - direct[key].numpy().astype(np.float64)).max() > 1e-5:
            raise ExportError(f"The {SAMPLE_SIGNATURE!r} signature disagrees with {SERVING_SIGNATURE!r} on the same z.")
