"""Argument checks of the data functions (their error, `DatasetError`, is in `ganzoo.errors`)."""

import numpy as np

from ganzoo.errors import DatasetError


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise DatasetError(f"{name} must be a positive int; got {value!r}.")
    return int(value)


def _check_seed(seed):
    # tf.data takes int64 seeds and numpy's generators non-negative ones.
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed < 2**63):
        raise DatasetError(f"seed must be None or an integer from 0 to 2**63 - 1; got {seed!r}.")
