"""Every registered model (`ganzoo.models.registry.MODELS`, what `ganzoo train MODEL` offers)
passes the per-model checks of `run_model_test` (conftest): the config round trip, output
shapes, one epoch of `fit`, seeded `generate` and the `.keras` round trip, on tiny images, and
class-conditional. A new model is checked by registering it."""

import pytest

from ganzoo.models.registry import MODELS


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("num_classes", [None, 3], ids=["unconditional", "conditional"])
def test_model_passes_the_per_model_checks(name, num_classes, run_model_test):
    run_model_test(MODELS[name], data_shape=(8, 8, 1), num_classes=num_classes)
