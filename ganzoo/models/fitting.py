"""`GANBase.fit`: the data checks made once per `fit`, and k real batches per generator step.

Works on every backend: numpy (or backend) arrays, Python iterators of batches and, where
TensorFlow is installed, `tf.data.Dataset`s. TensorFlow is imported only for a dataset.
"""

import itertools
import sys

import keras
import numpy as np


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
        batches gives N // k of them. Labels, if any, are ignored. `x`: arrays (samples or
        (samples, labels)), a Python iterator of batches, or a `tf.data.Dataset`.
        """
        if _is_dataset(x):
            if self.d_steps > 1:
                x = self._group_dataset(x, batch_size)
            self._check_real_spec(_spec_of(self._strip_labels(x.element_spec)))
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself; Keras warns otherwise
        elif isinstance(x, dict) or (isinstance(x, (tuple, list)) and x and isinstance(x[0], dict)):
            self._check_real_spec(self._strip_labels(x))
        elif x is not None and hasattr(x, "shape") or isinstance(x, (tuple, list)):
            samples = np.asarray(keras.ops.convert_to_numpy(self._strip_labels(x)))
            self._check_real_spec(self._batch_spec((batch_size or 32,) + samples.shape[1:], samples.dtype))
            if self.d_steps > 1:
                x, batch_size = self._group_arrays(samples, batch_size or 32), batch_size or 32
                kwargs.setdefault("shuffle", False)  # batch i of a group is critic step i's
        elif x is not None and hasattr(x, "__next__"):
            x = self._checked_iterator(x)
            kwargs.setdefault("shuffle", False)  # Keras cannot shuffle an iterator, and warns
        return super().fit(x, y, batch_size=batch_size, **kwargs)

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

    def _checked_iterator(self, iterator):
        """A Python iterator of batches: check the first, group k at a time when k > 1."""
        first = next(iterator, None)
        if first is None:
            raise ValueError(f"{type(self).__name__}.fit got an empty iterator.")
        sample = np.asarray(keras.ops.convert_to_numpy(self._strip_labels(first)))
        self._check_real_spec(self._batch_spec(sample.shape, sample.dtype))
        batches = (self._strip_labels(b) for b in itertools.chain([first], iterator))
        k = self.d_steps

        def grouped():  # Keras takes a generator of (inputs,) tuples
            while True:
                group = list(itertools.islice(batches, k))
                if len(group) < k:
                    return
                if k == 1:
                    yield (group[0],)
                else:
                    yield (np.stack([keras.ops.convert_to_numpy(b) for b in group], axis=1),)

        return grouped()

    def _group_dataset(self, x, batch_size):
        import tensorflow as tf

        k = self.d_steps
        if batch_size is not None:
            raise ValueError("Do not pass `batch_size` with a tf.data.Dataset: batch the dataset itself.")
        batches = int(x.cardinality())
        if 0 <= batches < k:
            raise self._too_few_batches(batches)
        x = x.map(lambda *d: self._strip_labels(d), num_parallel_calls=tf.data.AUTOTUNE)
        rank = x.element_spec.shape.rank
        if rank is None or rank != len(self.data_shape) + 1:
            return x  # _check_real_spec reports the mismatch with the expected shapes
        perm = [1, 0] + list(range(2, rank + 1))
        # (k, batch, ...) -> (batch, k, ...): tf.distribute splits the batch axis over replicas.
        return x.batch(k, drop_remainder=True).map(
            lambda b: tf.transpose(b, perm), num_parallel_calls=tf.data.AUTOTUNE
        ).prefetch(tf.data.AUTOTUNE)

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
