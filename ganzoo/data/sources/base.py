"""What every kind of data source answers: `info()` (headers only) and `open()` (the examples)."""

from ganzoo.errors import DatasetError
from ganzoo.data.errors import _positive_int
from ganzoo.data.image_ops import _as_size, _check_channels
from ganzoo.data.pipeline import real_arrays


def check_split(name, splits, split):
    """DatasetError naming `name`'s splits unless `split` is one of them (`splits`: {split: count})."""
    if split not in splits:
        raise DatasetError(f"{name} has splits {sorted(splits)}; got split={split!r}.")


class Source:
    """One dataset of one kind (toy, mnist_sample, tfds, folder).

    Args:
        name: the name the user gave (quoted in error messages).
        key: the dataset's name within its kind: a toy or tfds name, a folder path.
    """

    kind = None

    def __init__(self, name, key):
        self.name = name
        self.key = key

    def info(self, *, size, channels, image_size, split, data_dir, num_examples):
        """The `dataset_info` dict: what `open` would give, without reading the data."""
        raise NotImplementedError

    def open(self, *, size, channels, split, seed, data_dir, shuffle, cache, skip_corrupt, num_examples,
             with_labels):
        """The examples as a `pipeline.Examples`, before shuffling and batching."""
        raise NotImplementedError

    def open_checked(self, *, image_size, channels, num_examples, **options):
        """`open` after the argument checks every kind shares."""
        channels = _check_channels(channels)
        size = _as_size(image_size)
        if num_examples is not None:
            num_examples = _positive_int(num_examples, "num_examples")
        return self.open(size=size, channels=channels, num_examples=num_examples, **options)

    def real_samples(self, n, *, image_size, channels, split, seed, data_dir, skip_corrupt, with_labels):
        """numpy (samples, labels): `n` examples chosen with `seed`, or all when n is None."""
        if n is not None:
            n = _positive_int(n, "n")
        examples = self.open_checked(
            image_size=image_size,
            channels=channels,
            split=split,
            seed=seed,
            data_dir=data_dir,
            shuffle=n is not None,
            cache=True,  # a folder that fits is decoded once, by its check pass
            skip_corrupt=skip_corrupt,
            num_examples=None,
            with_labels=with_labels,
        )
        if with_labels and not examples.has_labels:
            raise DatasetError(f"Dataset {self.name!r} has no labels; call without with_labels=True.")
        if n is not None and examples.num_examples is not None and n > examples.num_examples:
            raise DatasetError(
                f"Asked for n={n} real samples but {self.name!r} split {split!r} has {examples.num_examples}; "
                f"use n <= {examples.num_examples} (or another split)."
            )
        return real_arrays(examples, n, seed, self.name, split)
