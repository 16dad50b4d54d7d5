"""Every registered model (`ganzoo.models.registry.MODELS`, what `ganzoo train MODEL` offers)
passes the per-model checks of `run_model_test` (conftest): the config round trip, output
shapes, one epoch of `fit`, seeded `generate` and the `.keras` round trip, on tiny images. A new
model is checked by registering it. (Class-conditional forms of every model:
test_conditional_models.py; vector data: test_models.py.)"""

import pytest

from ganzoo.models.registry import MODELS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_passes_the_per_model_checks(name, run_model_test):
    run_model_test(MODELS[name], data_shape=(8, 8, 1))
