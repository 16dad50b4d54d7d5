"""The one config schema: `TrainConfig`'s field declarations make the `ganzoo train` flags and
the validation; each model maps the fields it takes to its own keywords."""

import dataclasses

import pytest

import ganzoo
from ganzoo.cli.main import build_parser
from ganzoo.errors import ConfigError
from ganzoo.config import TrainConfig, flags_of, resolve_config


def _train_actions():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["train"]._actions}


def test_every_field_is_a_flag_unless_declared_otherwise():
    actions = _train_actions()
    for field in dataclasses.fields(TrainConfig):
        if field.metadata["cli"]:
            assert set(flags_of(field)) <= set(actions[field.name].option_strings), field.name
            assert actions[field.name].default is None, field.name  # unset flags keep the preset's value
        else:
            assert field.name not in actions or field.name == "model", field.name
    assert _train_actions()["d_steps"].option_strings == ["--d-steps", "--n-critic", "--n-dis"]


def test_flags_parse_into_the_configs_fields():
    args = build_parser().parse_args(["train", "wgan_gp", "--n-critic", "3", "--beta-1", "0.5", "--quiet",
                                      "--export", "out", "--jit-compile", "off"])
    fields = {k: v for k, v in vars(args).items() if k not in ("command", "model", "verbose")}
    config = resolve_config("wgan_gp", **fields)
    assert (config.d_steps, config.beta_1, config.quiet, config.export_dir, config.jit_compile) == (
        3, 0.5, True, "out", "off")


@pytest.mark.parametrize("values,message", [
    ({"epochs": 0}, "--epochs must be a positive integer; got 0."),
    ({"seed": -1}, "--seed must be an integer from 0 to 4294967295; got -1."),
    ({"d_lr": float("nan")}, "--d-lr must be a finite number; got nan."),
    ({"d_lr": 0.0}, "--d-lr must be > 0; got 0.0."),
    ({"beta_2": 1.0}, "--beta-2 must be in [0, 1); got 1.0."),
    ({"ema": 1.0}, "--ema must be in (0, 1), e.g. 0.999; got 1.0."),
    ({"quiet": "yes"}, "quiet must be True or False; got 'yes'."),
    ({"strategy": "tpu"}, "--strategy must be one of default, mirrored, multi_worker, data_parallel; got 'tpu'."),
    ({"export_dir": "x", "pack": 3, "batch_size": 64}, "--batch-size must be a multiple of it; got 64."),
    ({"model": "gan", "gp_weight": 1.0}, "--gp-weight applies to wgan_gp only."),
    ({"model": "wgan_gp", "generator_loss": "minimax"}, "--generator-loss applies to gan and dcgan"),
    ({"model": "sngan", "d_norm": "none"}, "--d-norm applies to dcgan only; SN-GAN normalizes D spectrally."),
    ({"d_norm": "layer"}, "--d-norm must be one of batch, none; got 'layer'."),
    ({"minibatch_std": 1}, "--minibatch-std must be >= 2; got 1."),
    ({"model": "sngan", "minibatch_std": 4}, "--minibatch-std applies to dcgan only"),
    ({"batch_size": 30, "minibatch_std": 4}, "their number per batch must be a multiple of it; got --batch-size 30."),
    ({"batch_size": 32, "pack": 2, "minibatch_std": 3}, "their number per batch (16 packs of 2) must be a multiple"),
])
def test_validation_comes_from_the_declarations(values, message):
    with pytest.raises(ConfigError) as error:
        resolve_config(values.pop("model", "dcgan"), **values)
    assert message in str(error.value)


def test_models_map_config_fields_to_their_own_keywords():
    wgan = ganzoo.WGANGP.config_kwargs(resolve_config("wgan_gp", d_steps=3, gp_weight=0.5, pack=2))
    assert wgan["n_critic"] == 3 and wgan["gp_weight"] == 0.5 and wgan["pack"] == 2 and "d_steps" not in wgan
    gan = ganzoo.GAN.config_kwargs(resolve_config("gan", d_steps=2, generator_loss="minimax"))
    assert gan["d_steps"] == 2 and gan["generator_loss"] == "minimax" and "n_critic" not in gan
    assert "generator_loss" not in ganzoo.DCGAN.config_kwargs(resolve_config("dcgan"))  # None: the model's default
    assert ganzoo.DCGAN.config_kwargs(resolve_config("dcgan", d_norm="none"))["d_norm"] == "none"
    assert "d_norm" not in ganzoo.DCGAN.config_kwargs(resolve_config("dcgan"))
    assert ganzoo.DCGAN.config_kwargs(resolve_config("dcgan", minibatch_std=4))["minibatch_std"] == 4
    assert (ganzoo.GAN.default_d_steps, ganzoo.WGANGP.default_d_steps) == (1, 5)
    assert ganzoo.WGANGP(data_shape=(2,), width=4).n_critic == 5
    sngan = ganzoo.SNGAN.config_kwargs(resolve_config("sngan", d_steps=2))
    assert sngan["n_dis"] == 2 and "d_steps" not in sngan and ganzoo.SNGAN.default_d_steps == 5


def test_a_loss_whose_extra_metrics_break_the_metric_names_contract_is_named(tiny_model, image_dataset):
    class Undeclared(ganzoo.GAN):
        def discriminator_loss(self, real, fake, real_scores, fake_scores, **kwargs):
            loss, _ = super().discriminator_loss(real, fake, real_scores, fake_scores, **kwargs)
            return loss, {"margin": loss}

    class Missing(ganzoo.GAN):
        metric_names = ganzoo.GAN.metric_names + ("margin",)

    for cls, words in ((Undeclared, "unknown margin (add them to metric_names)"), (Missing, "missing margin")):
        model = tiny_model(cls, (2,))
        model.compile()
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            model.fit(image_dataset(shape=(2,)), epochs=1, verbose=0)


def test_augmentation_and_regularizer_flags_reach_the_model():
    args = build_parser().parse_args(["train", "sngan", "--augment", "ada", "--augment-policy", "translation,cutout",
                                      "--ada-target", "0.7", "--ada-kimg", "100", "--r1", "0.5", "--r1-every", "4",
                                      "--lecam", "0.3"])
    fields = {k: v for k, v in vars(args).items() if k not in ("command", "model", "verbose")}
    config = resolve_config("sngan", **fields)
    kwargs = ganzoo.SNGAN.config_kwargs(config)
    assert {k: kwargs[k] for k in ("augment", "augment_policy", "ada_target", "ada_kimg", "r1_gamma", "r1_every",
                                   "lecam_weight")} == dict(augment="ada", augment_policy="translation,cutout",
                                                            ada_target=0.7, ada_kimg=100, r1_gamma=0.5, r1_every=4,
                                                            lecam_weight=0.3)
    # Unset, the model keeps its defaults: no keyword at all.
    assert "augment" not in ganzoo.SNGAN.config_kwargs(resolve_config("sngan"))


@pytest.mark.parametrize("values,message", [
    ({"augment_policy": "color"}, "--augment-policy sets up augmentation: add --augment diffaugment or --augment ada."),
    ({"augment": "diffaugment", "ada_target": 0.7}, "--ada-target and --ada-kimg apply to --augment ada."),
    ({"augment": "ada", "model": "wgan_gp"}, "use --augment diffaugment with wgan_gp"),
    ({"augment": "diffaugment", "augment_policy": "color,zoom"}, "--augment-policy: Unknown augmentation 'zoom'"),
    ({"r1_every": 4}, "--r1-every sets how often the R1 penalty is taken: add --r1 GAMMA."),
    ({"augment": "mixup"}, "--augment must be one of diffaugment, ada; got 'mixup'."),
    ({"r1": -1.0}, "--r1 must be >= 0; got -1.0."),
])
def test_bad_augmentation_and_regularizer_settings_are_named(values, message):
    model = values.pop("model", "dcgan")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        resolve_config(model, **values)


def test_r1_zero_turns_a_presets_lazy_r1_off():
    config = resolve_config("dcgan_clusters_fashion_mnist", r1=0.0)
    assert ganzoo.DCGAN.config_kwargs(config)["r1_gamma"] == 0.0
    assert resolve_config("dcgan_clusters_fashion_mnist").r1 == 0.1


def test_cluster_labels_zero_turns_a_presets_clusters_off_with_their_space():
    assert resolve_config("dcgan_clusters_fashion_mnist").cluster_features == "hog_pixels"
    for extra in ({}, {"conditional": True}):  # the advice --cluster-labels' refusal gives, followed
        config = resolve_config("dcgan_clusters_fashion_mnist", cluster_labels=0, **extra)
        assert (config.cluster_labels, config.cluster_features) == (0, "pixels")
    with pytest.raises(ConfigError, match="add --cluster-labels K"):  # given by the user, it is still refused
        resolve_config("dcgan_clusters_fashion_mnist", cluster_labels=0, cluster_features="hog_pixels")


def test_a_resume_with_another_augmentation_setting_is_named():
    from ganzoo.config import config_difference

    saved = resolve_config("dcgan", augment="diffaugment").to_dict()
    lines = config_difference(saved, resolve_config("dcgan", augment="ada").to_dict())
    assert lines == ["  augment: run has 'diffaugment', now 'ada'"]
    # A run directory written before these fields existed reads as their defaults (off).
    old = {k: v for k, v in resolve_config("dcgan").to_dict().items()
           if k not in ("augment", "augment_policy", "ada_target", "ada_kimg", "r1", "r1_every", "lecam")}
    assert config_difference(old, resolve_config("dcgan").to_dict()) == []
    assert config_difference(old, resolve_config("dcgan", r1=1.0).to_dict()) == ["  r1: run has None, now 1.0"]
