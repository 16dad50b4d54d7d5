"""Presets and the run config: every preset resolves, steps per epoch are whole compiled calls."""

import pytest

from ganzoo.presets import PRESETS
from ganzoo.errors import ConfigError
from ganzoo.runs.setup import _steps_per_epoch
from ganzoo.config import resolve_config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_resolves_to_whole_compiled_calls(name):
    config = resolve_config(name, run_dir="unused")
    if config.steps_per_epoch is not None:
        assert config.steps_per_epoch % config.steps_per_execution == 0


def test_steps_per_epoch_must_be_a_multiple_of_steps_per_execution():
    """Keras runs whole calls: 20 steps per epoch at 16 per call silently ran 32."""
    config = resolve_config("gan_gaussian_ring", run_dir="unused", steps_per_epoch=30)
    with pytest.raises(ConfigError, match=r"multiple of --steps-per-execution 20.*40 steps"):
        _steps_per_epoch(config, {"num_examples": 100_000}, 1)
    # Counted from the dataset, the epoch rounds down to whole calls.
    config = resolve_config("gan", dataset="gaussian_ring", run_dir="unused", batch_size=256, steps_per_execution=16)
    assert _steps_per_epoch(config, {"num_examples": 100_000}, 1) == 384  # 390 // 16 * 16
    with pytest.raises(ConfigError, match="Lower --batch-size or --steps-per-execution"):
        _steps_per_epoch(config, {"num_examples": 4000}, 1)


def test_gan_ema_recipe_is_the_baseline_plus_its_stated_levers():
    base = resolve_config("gan_gaussian_grid", run_dir="unused").to_dict()
    recipe = resolve_config("gan_ema_gaussian_grid", run_dir="unused").to_dict()
    changed = {k for k in base if base[k] != recipe[k]} - {"preset"}
    assert changed == {"d_lr", "g_lr", "ema", "epochs"}
    assert (recipe["d_lr"], recipe["g_lr"], recipe["ema"], recipe["epochs"] * recipe["steps_per_epoch"]) == \
           (1e-3, 1e-3, 0.999, 20_000)


def test_cli_pack_trains_resumes_and_exports_the_unpacked_generator(tmp_path, capsys):
    import json

    import numpy as np

    from ganzoo.cli.main import main
    from ganzoo.runs.record import load_run

    run = tmp_path / "run"
    args = ["train", "gan", "--dataset", "gaussian_ring", "--run-dir", str(run), "--pack", "4", "--batch-size", "16",
            "--width", "4", "--steps-per-epoch", "3", "--quiet"]
    assert main([*args, "--epochs", "1"]) == 0
    assert main([*args, "--epochs", "2"]) == 0  # resumes the packed run
    assert json.loads((run / "config.json").read_text())["pack"] == 4
    _, model = load_run(str(run))
    assert model.pack == 4 and model.discriminator.input_shape == (None, 8)
    assert int(model.g_optimizer.iterations.numpy()) == 6
    assert main([*args, "--epochs", "2", "--pack", "2"]) == 2  # a changed packing is a changed run
    assert "pack" in capsys.readouterr().err
    assert main(["train", "gan", "--dataset", "gaussian_ring", "--run-dir", str(tmp_path / "odd"), "--pack", "3",
                 "--batch-size", "16", "--quiet"]) == 2
    assert "multiple of it" in capsys.readouterr().err
    assert main(["export", str(run), "--out", str(tmp_path / "export"), "--format", "onnx"]) == 0
    from ganzoo.export import load_exported

    exported = load_exported(str(tmp_path / "export"))
    z = np.random.default_rng(0).standard_normal((4, model.latent_dim)).astype("float32")
    np.testing.assert_allclose(exported.generate(z), model.generate(z), atol=1e-5)
