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
    _read_card,
    _resolve_export_path,
    vouched_files,
)
from ganzoo.errors import ExportError
from ganzoo.labels import balanced_labels, prior_labels


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
        self.num_classes, self.class_names, self.label_prior = None, None, None
        self._takes_label = "label" in inputs
        if self._takes_label:
            self.num_classes = (card or {}).get("num_classes")
            self.label_prior = (card or {}).get("label_prior")
            self.class_names = (card or {}).get("class_names") or (
                [str(i) for i in range(self.num_classes)] if self.num_classes else None)
        self._float_output = "images" if "images" in self._outputs else "samples"
        if self._float_output not in self._outputs:
            raise ExportError(f"{path} has outputs {self._outputs}; a ganzoo export has 'images' or 'samples'.")
        if card is not None:
            self._check_against_card(card)

    def _check_against_card(self, card):
        """The network must be what its (schema-checked) card says: z size, sample shape, classes."""
        problems = []
        if card.get("latent_dim") is not None and card["latent_dim"] != self.latent_dim:
            problems.append(f"latent_dim {card['latent_dim']} (the network takes z of {self.latent_dim})")
        if card.get("output_shape") is not None and tuple(card["output_shape"]) != tuple(self.output_shape):
            problems.append(f"output_shape {card['output_shape']} (the network makes {list(self.output_shape)})")
        if card.get("label_prior") is not None and len(card["label_prior"]) != card.get("num_classes"):
            problems.append(f"label_prior of {len(card['label_prior'])} classes (num_classes is "
                            f"{card.get('num_classes')})")
        if (card.get("num_classes") is not None) != self._takes_label:
            problems.append(f"num_classes {card.get('num_classes')} (the network "
                            f"{'takes' if self._takes_label else 'takes no'} label)")
        elif self._takes_label and self.num_classes and not self._label_runs(self.num_classes - 1):
            problems.append(f"num_classes {self.num_classes} (the network has fewer classes: label "
                            f"{self.num_classes - 1} fails)")
        if problems:
            raise ExportError(f"The model card of {self.path} does not describe its network: {'; '.join(problems)}. "
                              "Re-export the model.")

    def _label_runs(self, label):
        try:
            self._run(np.zeros((1, self.latent_dim), np.float32), np.array([label], np.int32))
        except Exception:  # noqa: BLE001 - ONNX Runtime and TensorFlow refuse an unknown class differently
            return False
        return True

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
                in [0, num_classes). None: drawn from the card's `label_prior` with `seed`
                when it has one (a model trained on clusters of its images, as its Keras
                model draws them), else 0, 1, ..., num_classes - 1, 0, 1, ... (every class
                equally often).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
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
        labels = self._labels(labels, len(z), seed)
        parts = [self._run(z[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
                 for i in range(0, len(z), batch_size)]
        if not parts:
            return np.zeros((0,) + self.output_shape, np.float32)
        return np.concatenate(parts, axis=0)

    def _labels(self, labels, n, seed=None):
        """int32 labels (n,) for a conditional generator (checked), None for an unconditional one."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{self.path} is an unconditional generator; it takes no labels.")
            return None
        if labels is None and self.label_prior is not None:
            return prior_labels(self.label_prior, n, seed)
        if labels is None:
            if not self.num_classes:
                raise ValueError(f"{self.path} has no model card giving its number of classes: pass labels=.")
            return balanced_labels(self.num_classes, n)
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


#: The SavedModel files a model card must vouch for before one is run without trust_saved_model.
SAVED_MODEL_FILES = ("saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001")


def load_exported(path, backend=None, trust_saved_model=False):
    """Load an export for sampling.

    An export is trusted only as far as its model card (model.json, schema-checked) vouches
    for it: the ONNX file is run only when the card lists it with a matching sha256, and a
    SavedModel, which is a program (its graph runs with your rights), only when the card vouches
    for its files too, or when you say you trust its source (`trust_saved_model=True`).

    Args:
        path: a version directory (`exported_models/NAME/3`), a base directory (its newest
            version), a SavedModel directory, or an `.onnx` file.
        backend: "onnx", "saved_model", or None for ONNX Runtime when the export has an ONNX
            file (it does not import TensorFlow) and the SavedModel otherwise.
        trust_saved_model: run a SavedModel that the card does not vouch for (no card, or one
            without its files): only for exports from a source you trust.

    Returns:
        An `ExportedGenerator` with `.latent_dim`, `.output_shape`, `.num_classes`,
        `.class_names`, `.card` and `.generate()`.

    Raises:
        ExportError: missing path, no export in it, an invalid card, a file that the card does
            not vouch for or that does not match its sha256, or a corrupt model.

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
        rel = os.path.basename(onnx_path)
        if not vouched_files(version_dir, card, (rel,)):
            raise ExportError(
                f"{onnx_path} is not vouched for by a model card: {'its ' + CARD_FILENAME + ' does not list ' + rel if card else 'the export has no ' + CARD_FILENAME} with "
                "its sha256, so any file could stand in for the generator. Re-export the model (ganzoo export).")
        return ExportedGenerator(onnx_path, "onnx", card)
    if sm_dir is None:
        raise ExportError(f"{path} has no SavedModel (saved_model.pb); use backend='onnx'.")
    vouched = sm_dir == version_dir and vouched_files(sm_dir, card, SAVED_MODEL_FILES)
    if not vouched and not trust_saved_model:
        why = f"its {CARD_FILENAME} does not list its files" if card else f"it has no {CARD_FILENAME}"
        raise ExportError(
            f"The SavedModel at {sm_dir} is not vouched for ({why}), and a SavedModel is a program: its graph runs "
            "with your rights. Re-export the model, or pass trust_saved_model=True if you trust where it came from.")
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
