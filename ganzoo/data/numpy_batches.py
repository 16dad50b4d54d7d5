"""In-memory datasets as numpy batches, for a process without TensorFlow: `NumpyBatches`, a
`keras.utils.PyDataset` that `model.fit` consumes on every backend, and `numpy_real_arrays`.

It needs numpy and Keras only. `load_dataset` returns it for the in-memory sources (toys,
mnist_sample) where TensorFlow cannot be imported; with TensorFlow, those sources stay tf.data.
"""

import threading

import keras
import numpy as np

from ganzoo.errors import DatasetError
from ganzoo.data.errors import _check_seed, _positive_int
from ganzoo.data.image_ops import _scale_numpy


class NumpyBatches(keras.utils.PyDataset):
    """float32 batches of in-memory arrays, shuffled with a seed and reshuffled every epoch.

    Batch i of an epoch holds the examples `order[i * batch_size : (i + 1) * batch_size]` of
    that epoch's order, a permutation drawn from `np.random.default_rng([seed, epoch, 0])`
    (the identity without `shuffle`); the last partial batch is dropped (static shapes).
    Images are scaled from uint8 to float32 in [-1, 1] a whole batch at a time.

    Finite (`repeat=False`): `len(dataset)` batches per epoch. Keras calls `on_epoch_end`
    after every epoch of `fit` (and once as `fit` starts), and each call moves to the next
    epoch's order; iterating the dataset (`for batch in dataset`) does the same after a full
    pass. `dataset[i]` itself has no side effect, so Keras may fetch batches in any order.
    (With `steps_per_epoch` shorter than an epoch, Keras's epochs end mid-pass: use
    `repeat=True` there, as with tf.data.)
    Unbounded (`repeat=True`): `num_batches` is None and batch i is a pure function of the
    seed and i (epoch i // len, or, with fewer examples than a batch, a stream of
    consecutive epochs' orders), so a new iterator (a new `fit`) starts the same stream
    again, and `skip(n)` resumes it after n batches.

    The order differs from the tf.data pipeline's for the same seed (numpy's generator, not
    TensorFlow's); for a seed it is the same in every process. Without a seed, a fresh one
    is drawn once per dataset.

    Args:
        x: samples (N, ...): uint8 images or float32 points.
        labels: int32 labels (N,), or None.
        batch_size: examples per batch.
        shuffle, seed, repeat: as in `load_dataset`.
        with_labels: yield (x, labels) instead of x.
        class_names, skipped_files: carried for the caller (label i is `class_names[i]`).

    Example:
        >>> ds = NumpyBatches(points, None, batch_size=64, seed=0, repeat=True)
        >>> model.fit(ds, steps_per_epoch=100, epochs=3)
    """

    def __init__(self, x, labels=None, *, batch_size, shuffle=True, seed=None, repeat=False, with_labels=False,
                 class_names=(), skipped_files=()):
        super().__init__()  # workers=1: a batch is one numpy gather, cheap next to a train step
        _check_seed(seed)
        self.x = np.asarray(x)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int32)
        if with_labels and self.labels is None:
            raise DatasetError("with_labels=True needs labels: pass int labels, one per sample, or with_labels=False.")
        if self.labels is not None and self.labels.shape != (len(self.x),):
            raise DatasetError(f"labels must have shape ({len(self.x)},); got {self.labels.shape}.")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.num_examples = len(self.x)
        if self.num_examples == 0:
            raise DatasetError("The dataset has no examples.")
        if self.num_examples < self.batch_size and not repeat:
            raise DatasetError(f"batch_size={self.batch_size} is larger than the dataset ({self.num_examples} "
                               "examples): with drop_remainder there would be no batch. Use a smaller batch_size "
                               "or repeat=True.")
        self.shuffle, self.repeat, self.with_labels = bool(shuffle), bool(repeat), bool(with_labels)
        self.seed = np.random.SeedSequence().entropy if seed is None else int(seed)
        self.class_names, self.skipped_files = tuple(class_names), tuple(skipped_files)
        self.epoch = 0  # of a finite dataset: advanced by on_epoch_end
        self._offset = 0  # batches skipped (`skip`)
        self._orders = {}
        self._lock = threading.Lock()

    @property
    def batches_per_epoch(self):
        return self.num_examples // self.batch_size

    @property
    def num_batches(self):
        return None if self.repeat else self.batches_per_epoch

    def __len__(self):
        if self.repeat:
            raise TypeError("An unbounded dataset (repeat=True) has no len(); pass steps_per_epoch to fit.")
        return self.batches_per_epoch

    def __getitem__(self, index):
        index = int(index)
        if index < 0 or (not self.repeat and index >= self.batches_per_epoch):
            raise IndexError(f"batch {index} out of range for {self.num_batches} batches.")
        rows = self._rows(index + self._offset)
        samples = _scale_numpy(self.x[rows])
        return (samples, self.labels[rows]) if self.with_labels else samples

    def __iter__(self):
        yield from super().__iter__()
        if not self.repeat:
            self.on_epoch_end()  # a full pass by hand is an epoch too: the next pass reshuffles

    def on_epoch_end(self):
        if not self.repeat:
            with self._lock:
                self.epoch += 1

    def skip(self, count):
        """This dataset without its first `count` batches (an unbounded one: the same stream
        from batch `count` on; how a resumed run skips the batches it consumed)."""
        if not self.repeat:
            raise DatasetError("skip() is for unbounded datasets (repeat=True).")
        skipped = NumpyBatches.__new__(NumpyBatches)
        skipped.__dict__.update(self.__dict__, _offset=self._offset + int(count), _orders={},
                                _lock=threading.Lock())
        return skipped

    # ------------------------------------------------------------------ order
    def _rows(self, index):
        """The example indices of batch `index` (of the current epoch, or of the stream)."""
        size, per_epoch = self.batch_size, self.batches_per_epoch
        if not self.repeat:
            with self._lock:
                epoch = self.epoch
            return self._order(epoch)[index * size : (index + 1) * size]
        if per_epoch:
            epoch, index = divmod(index, per_epoch)
            return self._order(epoch)[index * size : (index + 1) * size]
        # Fewer examples than a batch: batches run on across consecutive epochs' orders.
        positions = np.arange(index * size, (index + 1) * size)
        epochs, offsets = np.divmod(positions, self.num_examples)
        return np.concatenate([self._order(e)[offsets[epochs == e]] for e in np.unique(epochs)])

    def _order(self, epoch):
        """Epoch `epoch`'s permutation of the examples (cached: the last two epochs)."""
        with self._lock:
            order = self._orders.get(epoch)
        if order is None:
            if self.shuffle:
                order = np.random.default_rng([self.seed, epoch, 0]).permutation(self.num_examples)
            else:
                order = np.arange(self.num_examples)
            with self._lock:
                self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
                self._orders[epoch] = order
        return order


def numpy_real_arrays(x, labels, n, seed):
    """`real_arrays` without TensorFlow: (float32 samples, int32 labels) of `n` examples chosen
    by `np.random.default_rng(seed)` without replacement, in that draw's order (None: all, in
    stored order)."""
    if n is not None:
        rows = np.random.default_rng(seed).choice(len(x), size=n, replace=False)
        x, labels = x[rows], labels[rows]
    return _scale_numpy(x), np.asarray(labels, dtype=np.int32)
