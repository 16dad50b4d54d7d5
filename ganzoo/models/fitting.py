"""`GANBase.fit`: the data checks made once per `fit`, and k real batches per generator step.

Works on every backend: numpy (or backend) arrays, Python iterators of batches,
`keras.utils.PyDataset`s (what `ganzoo.load_dataset` returns without TensorFlow) and, where
TensorFlow is installed, `tf.data.Dataset`s. TensorFlow is imported only for a dataset.
"""

import itertools
import sys

import keras
import numpy as np

from ganzoo.models.top_k import with_top_k_schedule


class _Spec:
    """The shape (None: unknown rank; None entries: unknown sizes) and dtype of a batch."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, keras.backend.standardize_dtype(dtype)


def _is_dataset(x):
    tf = sys.modules.get("tensorflow")  # a tf.data.Dataset implies TensorFlow is imported
    return tf is not None and isinstance(x, tf.data.Dataset)


def _spec_of(spec):
    if isinstance(spec, dict):
        return spec
    shape = None if spec.shape.rank is None else tuple(spec.shape)
    return _Spec(shape, spec.dtype.name)


class Fitting:
    """`fit` and its data checks (a mixin of `GANBase`)."""

    @staticmethod
    def _strip_labels(data):
        if isinstance(data, (tuple, list)):
            if not data:
                raise ValueError("Got an empty batch; the dataset must yield samples or (samples, labels).")
            data = data[0]
        return data

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.fit`; with d_steps = k > 1 one step is one generator update.

        Each generator update takes k consecutive batches of `x`, one per discriminator
        step, so `steps_per_epoch` and `epochs` count generator updates and a dataset of N
        batches gives N // k of them. `x`: arrays (samples, or a (samples, labels) tuple, or
        samples with `y=labels`), a Python iterator or `keras.utils.PyDataset` of batches
        (batches in the dataset's order: `shuffle` defaults to False), or a
        `tf.data.Dataset` of samples or (samples, labels). A conditional model (`num_classes`) needs the int
        labels in [0, num_classes); an unconditional one takes none (labels given to it are refused:
        it would learn p(x), not p(x | y)).

        The first batch's values are checked once: finite, and images (H, W, C) in [-1, 1] (for
        a dataset in the input pipeline, with no wait for the device); a non-finite value later
        is the NaN guard's (`ganzoo train`). Empty data is refused. A top-k model (`top_k`)
        gets its schedule callback (`ganzoo.models.top_k.TopKSchedule`).
        """
        if self.top_k is not None:
            kwargs["callbacks"] = with_top_k_schedule(self, kwargs.get("callbacks"))
        if _is_dataset(x):
            self._check_labels_spec(x.element_spec)
            if int(x.cardinality()) == 0:
                raise ValueError(f"{type(self).__name__}.fit got an empty dataset (no batches).")
            x = self._prepared_dataset(x, batch_size)
            self._check_real_spec(_spec_of(self._strip_labels(x.element_spec)))
            x = self._first_batch_checked(x)
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself; Keras warns otherwise
            try:
                return super().fit(x, y, batch_size=batch_size, **kwargs)
            except Exception as e:  # the first-batch check fails inside the pipeline
                if _VALUE_CHECK in str(e):
                    raise ValueError(self._bad_values_message("the dataset's first batch", None)) from None
                raise
        elif isinstance(x, dict) or (isinstance(x, (tuple, list)) and x and isinstance(x[0], dict)):
            self._check_real_spec(self._strip_labels(x))
        elif x is not None and hasattr(x, "shape") or isinstance(x, (tuple, list)):
            samples = np.asarray(keras.ops.convert_to_numpy(self._strip_labels(x)))
            if y is None and isinstance(x, (tuple, list)) and len(x) > 1:
                y = x[1]
            if not len(samples):
                raise ValueError(f"{type(self).__name__}.fit got no samples (an array of shape {samples.shape}).")
            self._check_real_spec(self._batch_spec((batch_size or 32,) + samples.shape[1:], samples.dtype))
            self._check_values(samples[: batch_size or 32], "the first batch")
            labels = self._checked_array_labels(y, len(samples))
            x, y = samples, labels
            if self.d_steps > 1:
                batch_size = batch_size or 32
                x = self._group_arrays(samples, batch_size)
                y = None if labels is None else self._group_arrays(labels, batch_size)
                kwargs.setdefault("shuffle", False)  # batch i of a group is critic step i's
        elif isinstance(x, keras.utils.PyDataset):
            x = self._checked_py_dataset(x)
            # The dataset orders (and reshuffles) its batches itself; Keras would reorder them
            # with Python's global random, losing the seeded order.
            kwargs.setdefault("shuffle", False)
        elif x is not None and hasattr(x, "__next__"):
            x = self._checked_iterator(x)
            kwargs.setdefault("shuffle", False)  # Keras cannot shuffle an iterator, and warns
        return super().fit(x, y, batch_size=batch_size, **kwargs)

    # ------------------------------------------------------------------- labels
    def _no_labels_error(self, what):
        name = type(self).__name__
        return ValueError(
            f"{name} is class-conditional (num_classes={self.num_classes}) and trains on (samples, labels); "
            f"{what}. Load the data with labels (load_dataset(..., with_labels=True)), pass fit(x=samples, "
            "y=labels), or build the model without num_classes."
        )

    def _unconditional_labels_error(self):
        name = type(self).__name__
        return ValueError(
            f"{name} is unconditional (num_classes=None): it learns p(x) and takes no labels, but the data holds "
            f"(samples, labels). Pass the samples only, or build a conditional {name}(num_classes=K, ...) to learn "
            "p(x | y).")

    def _checked_array_labels(self, labels, n):
        """int32 labels (n,) in [0, num_classes) for a conditional model; None for an unconditional
        one, which is given none (ValueError otherwise)."""
        if self.num_classes is None:
            if labels is not None:
                raise self._unconditional_labels_error()
            return None
        if labels is None:
            raise self._no_labels_error("the arrays hold samples only")
        labels = np.asarray(keras.ops.convert_to_numpy(labels))
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{type(self).__name__}.fit: labels must be {n} ints, one per sample; got shape "
                             f"{labels.shape} of {labels.dtype}.")
        if n and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"{type(self).__name__}.fit: labels must be in [0, {self.num_classes}) "
                             f"(num_classes={self.num_classes}); got values from {labels.min()} to {labels.max()}.")
        return labels.astype("int32")

    def _check_labels_spec(self, spec):
        """A conditional model's dataset yields (samples, int labels (batch,)); an unconditional
        model's yields samples."""
        if self.num_classes is None:
            if isinstance(spec, (tuple, list)) and len(spec) > 1:
                raise self._unconditional_labels_error()
            return
        if not isinstance(spec, (tuple, list)) or len(spec) < 2:
            raise self._no_labels_error("the dataset yields samples only")
        labels = _spec_of(spec[1])
        if "int" not in labels.dtype or (labels.shape is not None and len(labels.shape) != 1):
            raise ValueError(f"{type(self).__name__}.fit: the dataset's labels must be ints of shape (batch,); "
                             f"got {labels.dtype} of shape {labels.shape}.")

    def _prepared_dataset(self, x, batch_size):
        """Labels checked in range (conditional), k batches grouped per step (k > 1)."""
        import tensorflow as tf

        if self.num_classes is not None:
            k = self.num_classes
            message = f"labels must be in [0, {k}) (num_classes={k})"

            def checked(samples, labels, *rest):
                labels = tf.cast(labels, tf.int32)
                with tf.control_dependencies([tf.debugging.assert_non_negative(labels, message=message),
                                              tf.debugging.assert_less(labels, k, message=message)]):
                    return samples, tf.identity(labels)

            x = x.map(checked, num_parallel_calls=tf.data.AUTOTUNE)
        if self.d_steps > 1:
            x = self._group_dataset(x, batch_size)
        return x

    def _batch_spec(self, shape, dtype):
        """The spec of what train_step gets from batches of `shape`: (batch, k, ...) when k > 1."""
        return _Spec(shape[:1] + ((self.d_steps,) if self.d_steps > 1 else ()) + tuple(shape[1:]), dtype)

    def _too_few_batches(self, batches):
        k = self.d_steps
        return ValueError(
            f"{type(self).__name__} needs {k} batches per generator step ({self.d_steps_keyword}={k}) "
            f"but the data has only {batches}: use a smaller batch size or repeat the dataset."
        )

    def _group_arrays(self, samples, batch_size):
        """(N, *shape) -> (N // (k * batch) * batch, k, *shape): row r of batch j of the result
        holds sample r of the k consecutive batches j*k .. j*k+k-1."""
        k, shape = self.d_steps, samples.shape[1:]
        groups = len(samples) // (k * batch_size)
        if groups == 0:
            raise self._too_few_batches(len(samples) // batch_size)
        grouped = samples[: groups * k * batch_size].reshape((groups, k, batch_size) + shape)
        return grouped.swapaxes(1, 2).reshape((groups * batch_size, k) + shape)

    def _checked_first_batch(self, first):
        """The samples of the first batch an iterator or PyDataset yields, as numpy, after the
        shape and dtype check every later batch is taken to pass."""
        sample = np.asarray(keras.ops.convert_to_numpy(self._strip_labels(first)))
        self._check_real_spec(self._batch_spec(sample.shape, sample.dtype))
        self._check_values(sample, "the first batch")
        if self.num_classes is None and _labels_of(first) is not None:
            raise self._unconditional_labels_error()
        return sample

    def _checked_iterator(self, iterator):
        """A Python iterator of batches: check the first, group k at a time when k > 1."""
        first = next(iterator, None)
        if first is None:
            raise ValueError(f"{type(self).__name__}.fit got an empty iterator.")
        sample = self._checked_first_batch(first)
        conditional = self.num_classes is not None
        if conditional:
            self._checked_array_labels(_labels_of(first), len(sample))
            batches = ((b[0], b[1]) for b in itertools.chain([first], iterator))
        else:
            batches = ((self._strip_labels(b),) for b in itertools.chain([first], iterator))
        k = self.d_steps

        def grouped():  # Keras takes a generator of (samples,) or (samples, labels) tuples
            while True:
                group = list(itertools.islice(batches, k))
                if len(group) < k:
                    return
                yield tuple(_stacked([b[j] for b in group]) for j in range(len(group[0])))

        return grouped()

    def _checked_py_dataset(self, dataset):
        """A PyDataset: its first batch checked, and wrapped in `_StepBatches` when the step
        needs k > 1 batches or checked labels."""
        batches = dataset.num_batches
        if batches == 0:
            raise ValueError(f"{type(self).__name__}.fit got a PyDataset with no batches.")
        first = dataset[0]
        sample = self._checked_first_batch(first)
        if batches is not None and batches < self.d_steps:
            raise self._too_few_batches(batches)
        if self.num_classes is None and self.d_steps == 1:
            return dataset  # the step takes its batches as they come (labels ignored)
        check = None if self.num_classes is None else self._checked_array_labels
        if check is not None:
            check(_labels_of(first), len(sample))
        return _StepBatches(dataset, self.d_steps, check)

    def _group_dataset(self, x, batch_size):
        import tensorflow as tf

        k = self.d_steps
        if batch_size is not None:
            raise ValueError("Do not pass `batch_size` with a tf.data.Dataset: batch the dataset itself.")
        batches = int(x.cardinality())
        if 0 <= batches < k:
            raise self._too_few_batches(batches)
        conditional = self.num_classes is not None
        x = x.map(lambda *d: (self._strip_labels(d), d[1]) if conditional else self._strip_labels(d),
                  num_parallel_calls=tf.data.AUTOTUNE)
        rank = self._strip_labels(x.element_spec).shape.rank
        if rank is None or rank != len(self.data_shape) + 1:
            return x  # _check_real_spec reports the mismatch with the expected shapes
        perm = [1, 0] + list(range(2, rank + 1))

        def to_batch_major(*group):  # (k, batch, ...) -> (batch, k, ...): tf.distribute splits the batch axis
            samples = tf.transpose(group[0], perm)
            return (samples, tf.transpose(group[1], [1, 0])) if conditional else samples

        return x.batch(k, drop_remainder=True).map(to_batch_major, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
            tf.data.AUTOTUNE)

    # ------------------------------------------------------------------- values
    def _value_bound(self):
        """The largest |value| a sample may hold: images are in [-1, 1]; vectors (2-D toy points)
        any finite value."""
        return 1.0 + 1e-3 if len(self.data_shape) == 3 else None

    def _bad_values_message(self, what, values):
        name = type(self).__name__
        if values is not None and not np.isfinite(values).all():
            found = f"{int((~np.isfinite(values)).sum())} NaN or infinite values"
        elif values is not None:
            found = f"values from {float(values.min()):.4g} to {float(values.max()):.4g}"
        else:
            found = "NaN or infinite values, or values outside [-1, 1]"
        return (f"{name}.fit: {what} holds {found}; a GAN trains on finite samples, images scaled to [-1, 1] (the "
                "generator's tanh range). Scale images with x / 127.5 - 1 (ganzoo.load_dataset does this) and remove "
                "NaN/inf.")

    def _check_values(self, samples, what):
        """ValueError unless `samples` (numpy) are finite and, for images, within [-1, 1]."""
        bound = self._value_bound()
        flat = samples.reshape(-1)
        if not flat.size:
            return
        finite = np.isfinite(flat).all()
        if not finite or (bound is not None and max(-float(flat.min()), float(flat.max())) > bound):
            raise ValueError(self._bad_values_message(what, samples))

    def _first_batch_checked(self, x):
        """The dataset with its first batch checked in the input pipeline (finite, images in
        [-1, 1]): no device sync and no extra pass over the data."""
        import tensorflow as tf

        bound = self._value_bound()

        def check(index, element):
            samples = element[0] if isinstance(element, tuple) else element

            def first():
                ok = tf.reduce_all(tf.math.is_finite(samples))
                if bound is not None:
                    ok = ok & (tf.reduce_max(tf.abs(samples)) <= bound)
                with tf.control_dependencies([tf.debugging.Assert(ok, [_VALUE_CHECK])]):
                    return tf.constant(True)

            checked = tf.cond(tf.equal(index, 0), first, lambda: tf.constant(True))
            with tf.control_dependencies([checked]):
                return tf.nest.map_structure(tf.identity, element)

        return x.enumerate().map(check, num_parallel_calls=tf.data.AUTOTUNE)

    def _check_real_spec(self, spec):
        """Check the data once, in `fit`: float samples (or (samples, labels)) of
        (batch, *data_shape), or with d_steps = k > 1 (batch, k, *data_shape), one real batch
        per discriminator step."""
        name = type(self).__name__
        if isinstance(spec, dict):
            raise ValueError(
                f"{name}.fit expects a dataset of samples or (samples, labels) tuples; got a dict "
                f"with keys {sorted(spec)}. Map it first, e.g. ds.map(lambda d: d['image'])."
            )
        if "float" not in spec.dtype:
            raise ValueError(
                f"{name}.fit expects float samples scaled to [-1, 1]; got dtype {spec.dtype}. "
                "Scale images with x / 127.5 - 1 (ganzoo.load_dataset does this)."
            )
        if spec.shape is None:
            return
        self._check_real_shape(tuple(spec.shape))

    def _check_real_shape(self, shape):
        name = type(self).__name__
        expected = (None,) + ((self.d_steps,) if self.d_steps > 1 else ()) + tuple(self.data_shape)
        if len(shape) != len(expected) or any(
            s is not None and e is not None and s != e for s, e in zip(shape, expected)
        ):
            if self.d_steps > 1 and len(shape) == len(self.data_shape) + 1:
                raise ValueError(
                    f"{name} takes {self.d_steps} real batches per generator step ({self.d_steps_keyword}="
                    f"{self.d_steps}): train_step needs data of shape (batch, {self.d_steps}, "
                    f"*{tuple(self.data_shape)}); model.fit groups a dataset's batches this way itself."
                )
            got = shape[2:] if self.d_steps > 1 and len(shape) == len(expected) else shape[1:]
            raise ValueError(
                f"{name} was built for samples of shape {tuple(self.data_shape)}; the dataset yields "
                f"batches of shape {shape} (samples of shape {got}). Resize the data (load_dataset("
                f"..., image_size=...)) or build the model with data_shape={got}."
            )
        replicas = self._num_replicas()
        batch = shape[0] // replicas if shape[0] is not None and shape[0] % replicas == 0 else shape[0]
        if self.pack > 1 and batch is not None and batch % self.pack:
            raise ValueError(
                f"{name} packs {self.pack} samples per discriminator input (pack={self.pack}), so the "
                f"batch size must be a multiple of {self.pack} (per replica under tf.distribute); got "
                f"batches of {batch}. Use a batch size such as {max(1, batch // self.pack) * self.pack}."
            )
        split = _batch_split()
        if shape[0] is not None and shape[0] % split:
            raise ValueError(
                f"{name}: batches of {shape[0]} do not split evenly across the {split} devices of the "
                f"keras.distribution; use a batch size that is a multiple of {split}."
            )


#: The first-batch check's marker in a pipeline error.
_VALUE_CHECK = "ganzoo first-batch value check failed"


def _batch_split():
    """The devices a batch is split across under a `keras.distribution` (JAX's DataParallel); 1 without."""
    distribution = keras.distribution.distribution()
    if distribution is None or distribution.batch_dim_name is None:
        return 1
    mesh = distribution.device_mesh
    return mesh.shape[list(mesh.axis_names).index(distribution.batch_dim_name)]


def _labels_of(batch):
    return batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None


def _stacked(parts):
    """k consecutive batches (or their labels) as one step takes them: the batch itself for
    k = 1, else stacked on axis 1, (batch, k, ...)."""
    if len(parts) == 1:
        return parts[0]
    return np.stack([keras.ops.convert_to_numpy(p) for p in parts], axis=1)


class _StepBatches(keras.utils.PyDataset):
    """A PyDataset's batches as the train step takes them: k consecutive batches stacked on
    axis 1, (batch, k, ...), when k > 1; a conditional model's labels checked batch by batch
    by `check_labels`, an unconditional model's dropped. Epoch calls pass through, so the
    dataset reshuffles as it would alone; with N batches an epoch has N // k steps."""

    def __init__(self, dataset, k, check_labels):
        super().__init__(workers=dataset.workers, use_multiprocessing=dataset.use_multiprocessing,
                         max_queue_size=dataset.max_queue_size)
        self.dataset, self.k, self.check_labels = dataset, k, check_labels

    @property
    def num_batches(self):
        batches = self.dataset.num_batches
        return None if batches is None else batches // self.k

    def __getitem__(self, index):
        group = [self.dataset[index * self.k + j] for j in range(self.k)]
        samples = [np.asarray(keras.ops.convert_to_numpy(Fitting._strip_labels(b))) for b in group]
        if self.check_labels is None:
            return (_stacked(samples),)
        return _stacked(samples), _stacked([self.check_labels(_labels_of(b), len(x)) for b, x in zip(group, samples)])

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()
