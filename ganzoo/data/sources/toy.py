"""The 2-D toy mixtures as datasets: points drawn from `ganzoo.metrics.toy.TOY_DISTRIBUTIONS`."""

from ganzoo.errors import DatasetError
from ganzoo.data.errors import _positive_int
from ganzoo.data.pipeline import Examples
from ganzoo.data.sources.base import Source
from ganzoo.metrics.toy import TOY_DISTRIBUTIONS

#: Points drawn for one epoch of a toy distribution when `num_examples` is not given.
TOY_NUM_EXAMPLES = 100_000

_TOY_SPLITS = ("train", "test")


def toy_distribution(name):
    """The `ToyDistribution` behind a toy dataset name ("gaussian_ring", "gaussian_grid")."""
    if name not in TOY_DISTRIBUTIONS:
        raise DatasetError(f"Unknown toy distribution {name!r}; choose one of {sorted(TOY_DISTRIBUTIONS)}.")
    return TOY_DISTRIBUTIONS[name]


def _split_seed(seed, split):
    """Independent streams for toy train/test draws with the same seed."""
    if split not in _TOY_SPLITS:
        raise DatasetError(f"Toy distributions have splits {_TOY_SPLITS} (independent draws); got split={split!r}.")
    if seed is None:
        return None
    return [int(seed), _TOY_SPLITS.index(split)]


class ToySource(Source):
    """A toy mixture; "train" and "test" draw independent points from the same seed."""

    kind = "toy"

    def info(self, *, size, channels, image_size, split, data_dir, num_examples):
        dist = toy_distribution(self.key)
        return {
            "name": self.key,
            "kind": "toy",
            "shape": (2,),
            "num_examples": TOY_NUM_EXAMPLES if num_examples is None else num_examples,
            "has_labels": True,
            "num_classes": dist.num_modes,
            "class_names": dist.mode_names,
            "num_modes": dist.num_modes,
            "sigma": dist.sigma,
            "description": dist.description,
        }

    def open(self, *, size, channels, split, seed, data_dir, shuffle, cache, skip_corrupt, num_examples,
             with_labels):
        if size is not None or channels is not None:
            raise DatasetError(f"{self.key!r} is a 2-D point dataset; image_size and channels do not apply.")
        n = TOY_NUM_EXAMPLES if num_examples is None else _positive_int(num_examples, "num_examples")
        dist = toy_distribution(self.key)
        points, modes = dist.sample(n, seed=_split_seed(seed, split), return_modes=True)
        return Examples("toy", (2,), n, has_labels=True, arrays=(points, modes), class_names=dist.mode_names)

    def real_samples(self, n, *, image_size, channels, split, seed, data_dir, skip_corrupt, with_labels):
        if n is None:
            raise DatasetError("Toy distributions are unbounded: pass n, the number of points to draw.")
        n = _positive_int(n, "n")
        return toy_distribution(self.key).sample(n, seed=_split_seed(seed, split), return_modes=True)
