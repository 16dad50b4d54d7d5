"""Load an export and sample from it: `load_exported` and `ExportedGenerator`.

numpy and onnxruntime only: an `.onnx` export runs without Keras or TensorFlow installed;
TensorFlow is imported only when the SavedModel backend is asked for.
"""

import os

import numpy as np

from ganzoo.export.layout import (
    CARD_FILENAME,
    ONNX_FILENAME,
    REFERENCE_FILENAME,
    SERVING_SIGNATURE,
    _check_files,
    _read_card,
    _resolve_export_path,
)
from ganzoo.errors import ExportError


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
        num_classes: the number of classes of a conditional generator (inputs z and label),
            else None; `class_names` names them (from the model card; "0", "1", ... without one).
        card: the model card (dict) or None when the export has none.
        backend: "onnx" or "saved_model".
        path: the file or directory that is run.
    """

    def __init__(self, path, backend, card=None):
        self.path = path
        self.backend = backend
        self.card = card
        if backend == "onnx":
            inputs, self._outputs, self.latent_dim, self.output_shape = self._open_onnx(path)
        else:
            inputs, self._outputs, self.latent_dim, self.output_shape = self._open_saved_model(path)
        if inputs not in (["z"], ["z", "label"]):
            raise ExportError(f"{path} takes inputs {inputs}; a ganzoo export takes 'z' (and 'label' when conditional).")
        self.num_classes, self.class_names = None, None
        self._takes_label = "label" in inputs
        if self._takes_label:
            self.num_classes = (card or {}).get("num_classes")
            self.class_names = (card or {}).get("class_names") or (
                [str(i) for i in range(self.num_classes)] if self.num_classes else None)
        self._float_output = "images" if "images" in self._outputs else "samples"
        if self._float_output not in self._outputs:
            raise ExportError(f"{path} has outputs {self._outputs}; a ganzoo export has 'images' or 'samples'.")

    def _open_onnx(self, path):
        self._session = _onnx_session(path)
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        return ([i.name for i in inputs], [o.name for o in outputs], int(inputs[0].shape[1]),
                tuple(int(d) for d in outputs[0].shape[1:]))

    def _open_saved_model(self, path):
        self._loaded, self._serve = _load_saved_model(path)
        signature = self._serve.structured_input_signature[1]
        if "z" not in signature:
            raise ExportError(f"The SavedModel at {path} does not take an input named 'z'.")
        outputs = sorted(self._serve.structured_outputs)
        first = self._serve.structured_outputs[outputs[0]]
        return (sorted(signature, key=lambda k: k != "z"), outputs, int(signature["z"].shape[1]),
                tuple(int(d) for d in first.shape[1:]))

    @property
    def conditional(self):
        """True when the generator takes a class label with z."""
        return self._takes_label

    def __repr__(self):
        classes = f", num_classes={self.num_classes}" if self.conditional else ""
        return (f"ExportedGenerator(path={self.path!r}, backend={self.backend!r}, "
                f"latent_dim={self.latent_dim}, output_shape={self.output_shape}{classes})")

    def generate(self, n_or_z, seed=None, batch_size=256, labels=None):
        """Samples as float32 numpy, images in [-1, 1].

        Args:
            n_or_z: a number of samples, or z of shape (n, latent_dim).
            seed: seed of numpy's default_rng for z when `n_or_z` is a number (same seed,
                same samples with either backend); None draws fresh noise.
            batch_size: largest batch run at once.
            labels: conditional generators only: one int label for every sample, or n labels
                in [0, num_classes). None: 0, 1, ..., num_classes - 1, 0, 1, ... (every class
                equally often).
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
        labels = self._labels(labels, len(z))
        parts = [self._run(z[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
                 for i in range(0, len(z), batch_size)]
        if not parts:
            return np.zeros((0,) + self.output_shape, np.float32)
        return np.concatenate(parts, axis=0)

    def _labels(self, labels, n):
        """int32 labels (n,) for a conditional generator (checked), None for an unconditional one."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{self.path} is an unconditional generator; it takes no labels.")
            return None
        if labels is None:
            if not self.num_classes:
                raise ValueError(f"{self.path} has no model card giving its number of classes: pass labels=.")
            return (np.arange(n) % self.num_classes).astype(np.int32)
        array = np.asarray(labels)
        if array.ndim == 0:
            array = np.full(n, array)
        if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"labels must be one int or {n} ints (one per sample); got {np.asarray(labels)!r:.80}.")
        limit = self.num_classes
        if array.size and (array.min() < 0 or (limit and array.max() >= limit)):
            raise ValueError(f"labels must be in [0, {limit}) ({', '.join(self.class_names or [])}); "
                             f"got {sorted(set(array.tolist()))[:10]}.")
        return array.astype(np.int32)

    def _feed(self, z, labels):
        return {"z": z} if labels is None else {"z": z, "label": labels}

    def _run(self, z, labels=None):
        if self.backend == "onnx":
            return self._session.run([self._float_output], self._feed(z, labels))[0]
        return self._serve(**self._feed(z, labels))[self._float_output].numpy()

    def run_all(self, z, labels=None):
        """Every output of the exported graph on z (and labels), as {name: numpy array}."""
        z = np.asarray(z, dtype=np.float32)
        labels = self._labels(labels, len(z))
        if self.backend == "onnx":
            return dict(zip(self._outputs, self._session.run(self._outputs, self._feed(z, labels))))
        return {k: v.numpy() for k, v in self._serve(**self._feed(z, labels)).items()}


def load_exported(path, backend=None):
    """Load an export for sampling.

    Args:
        path: a version directory (`exported_models/NAME/3`), a base directory (its newest
            version), a SavedModel directory, or an `.onnx` file.
        backend: "onnx", "saved_model", or None for ONNX Runtime when the export has an ONNX
            file (it does not import TensorFlow) and the SavedModel otherwise.

    Returns:
        An `ExportedGenerator` with `.latent_dim`, `.output_shape`, `.num_classes`,
        `.class_names`, `.card` and `.generate()`.

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
            labels = stored["label"] if "label" in stored else None
    except Exception as e:
        raise ExportError(f"{reference_path} cannot be read ({type(e).__name__}: {e}); re-export the model.") from e
    if generator.conditional != (labels is not None):
        raise ExportError(f"{generator.path} does not fit its {reference_path} (labels in one, not the other).")
    output = generator.generate(z, labels=labels) if z.shape[1:] == (generator.latent_dim,) else None
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
