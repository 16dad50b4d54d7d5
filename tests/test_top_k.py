"""Top-k training (Sinha et al. 2020): the generator learns only from the fake samples D scores
highest, a share that falls from 1 by a factor per epoch down to `top_k`."""

import numpy as np
import pytest
import keras
from keras import ops

import ganzoo
from ganzoo import losses
from ganzoo.cli.main import build_parser
from ganzoo.config import resolve_config
from ganzoo.errors import ConfigError
from ganzoo.models.top_k import TopKSchedule, top_k_fraction

SCORES = np.array([[3.0], [-1.0], [2.0], [0.5]], "float32")


def numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("fraction, kept", [
    (1.0, [1, 1, 1, 1]), (0.75, [1, 0, 1, 1]), (0.5, [1, 0, 1, 0]), (0.3, [1, 0, 1, 0]), (0.01, [1, 0, 0, 0]),
])
def test_top_k_weights_keep_the_highest_scores(fraction, kept):
    # ceil(fraction * 4) kept: 0.3 keeps 2, and at least one is always kept.
    weights = numpy(losses.top_k_weights(SCORES, fraction))
    assert weights.shape == SCORES.shape and weights.ravel().tolist() == kept


def test_top_k_weights_keep_ties_at_the_threshold_and_take_a_tensor_fraction():
    weights = numpy(losses.top_k_weights(np.array([1.0, 1.0, 0.0, 2.0], "float32"), ops.convert_to_tensor(0.5)))
    assert weights.tolist() == [1, 1, 0, 1]


@pytest.mark.parametrize("loss", [losses.non_saturating_generator_loss, losses.minimax_generator_loss,
                                  losses.wasserstein_generator_loss, losses.hinge_generator_loss])
def test_weighted_generator_losses_are_their_mean_over_the_kept_samples(loss):
    weights = losses.top_k_weights(SCORES, 0.5)
    assert float(loss(SCORES, weights)) == pytest.approx(float(loss(SCORES[[0, 2]])), rel=1e-6)
    assert float(loss(SCORES, np.ones_like(SCORES))) == pytest.approx(float(loss(SCORES)), rel=1e-6)


@pytest.mark.parametrize("cls", [ganzoo.DCGAN, ganzoo.WGANGP, ganzoo.SNGAN])
def test_the_generator_objective_counts_only_the_kept_share(cls, tiny_model):
    model = tiny_model(cls, top_k=0.5)
    fake = np.zeros((4, 8, 8, 1), "float32")

    def d(x):  # a stand-in discriminator with known scores for the 4 samples
        return ops.convert_to_tensor(SCORES) + 0.0 * ops.sum(x, axis=(1, 2, 3))[:, None]

    state = model.game_state()
    assert float(numpy(state["top_k"])) == 1.0  # the schedule starts with the whole batch
    loss, logs = model.generator_objective(d, fake, None, noise={}, state=state)
    assert float(loss) == pytest.approx(float(model.generator_loss(SCORES))) and logs == {}
    state["top_k"] = ops.convert_to_tensor(0.5)
    kept = float(model.generator_objective(d, fake, None, noise={}, state=state)[0])
    assert kept == pytest.approx(float(model.generator_loss(SCORES[[0, 2]])), rel=1e-6)
    assert kept != pytest.approx(float(model.generator_loss(SCORES)))


def test_the_schedule_is_the_papers():
    # k <- max(gamma k, nu B) once per epoch, starting from the whole batch.
    assert [top_k_fraction(e, 0.5, 0.99) for e in (0, 1, 2)] == [1.0, 0.99, 0.99 ** 2]
    assert top_k_fraction(100, 0.5, 0.99) == 0.5
    assert top_k_fraction(3, 0.25, 1.0) == 1.0


@pytest.mark.parametrize("kwargs, words", [
    (dict(top_k=0.0), "`top_k` must be in \\(0, 1\\]"),
    (dict(top_k=1.5), "`top_k` must be in \\(0, 1\\]"),
    (dict(top_k="half"), "`top_k` must be in"),
    (dict(top_k=0.5, top_k_decay=0.0), "`top_k_decay` must be in"),
    (dict(top_k_decay=0.9), "set `top_k` too"),
])
def test_bad_top_k_options_are_named(kwargs, words, tiny_model):
    with pytest.raises(ValueError, match=words):
        tiny_model(ganzoo.DCGAN, **kwargs)


def test_top_k_flags_reach_the_model_and_round_trip(tiny_model):
    args = build_parser().parse_args(["train", "dcgan", "--top-k", "0.5", "--top-k-decay", "0.9"])
    fields = {k: v for k, v in vars(args).items() if k not in ("command", "model", "verbose")}
    kwargs = ganzoo.DCGAN.config_kwargs(resolve_config("dcgan", **fields))
    assert (kwargs["top_k"], kwargs["top_k_decay"]) == (0.5, 0.9)
    with pytest.raises(ConfigError, match="add --top-k NU"):
        resolve_config("dcgan", top_k_decay=0.9)
    with pytest.raises(ConfigError, match="--top-k must be in"):
        resolve_config("dcgan", top_k=2.0)
    model = tiny_model(ganzoo.DCGAN, top_k=0.5)
    assert model.top_k_decay == 0.99  # the paper's
    again = ganzoo.DCGAN.from_config(model.get_config())
    assert (again.top_k, again.top_k_decay, list(again._game_variables)) == (0.5, 0.99, ["top_k"])
    assert "top_k" not in tiny_model(ganzoo.DCGAN)._game_variables  # off: no state, no metric


@pytest.mark.both_backends
def test_fit_follows_the_schedule_and_a_resumed_run_continues_it(tmp_path, tiny_model, image_dataset):
    model = tiny_model(ganzoo.DCGAN, top_k=0.5, top_k_decay=0.8)
    model.compile()
    data = image_dataset(n=16)
    history = model.fit(data, epochs=3, verbose=0).history
    assert history["top_k"] == pytest.approx([1.0, 0.8, 0.64])
    assert all(np.isfinite(v).all() for v in history.values())
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert float(numpy(loaded._game_variables["top_k"])) == pytest.approx(0.64)
    # A schedule given by the caller is used, not doubled; epochs 3 and 4 continue the decay to 0.5.
    history = loaded.fit(data, epochs=5, initial_epoch=3, verbose=0, callbacks=[TopKSchedule()]).history
    assert history["top_k"] == pytest.approx([0.512, 0.5])
