"""Every data source feeds `model.fit` of a model of each input kind (k = 1 and k > 1 real
batches per step): mnist_sample, tensorflow-datasets (mocked, no network), an image folder and a
2-D toy distribution."""

import numpy as np
import pytest
from PIL import Image

import ganzoo
from ganzoo.data import load_dataset

#: What differs between the models' input paths is k, the real batches one step takes: GAN and
#: DCGAN take one, WGAN-GP and SN-GAN k (stacked by `fit`). Each source feeds one model of each
#: kind (every model on every input form: tests/test_models.py and test_conditional_models.py).
MODELS = {"images": [(ganzoo.DCGAN, {}), (ganzoo.WGANGP, {"n_critic": 2})],
          "vectors": [(ganzoo.GAN, {}), (ganzoo.SNGAN, {"n_dis": 2})]}


def _fit_one_model_of_each_kind(make_dataset, data_shape):
    for cls, kwargs in MODELS["vectors" if len(data_shape) == 1 else "images"]:
        name = cls.__name__
        model = cls(data_shape=data_shape, latent_dim=4, width=4, seed=0, **kwargs)
        model.compile()
        history = model.fit(make_dataset(), epochs=1, steps_per_epoch=2, verbose=0)
        assert all(np.isfinite(v[-1]) for v in history.history.values()), name
        assert model.generate(2, seed=0).shape == (2,) + tuple(data_shape)


def test_mnist_sample_feeds_fit():
    _fit_one_model_of_each_kind(lambda: load_dataset("mnist_sample", batch_size=8, seed=0, repeat=True), (28, 28, 1))


def test_tfds_feeds_fit():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=64):
        _fit_one_model_of_each_kind(lambda: load_dataset("cifar10", batch_size=8, seed=0, repeat=True), (32, 32, 3))


def test_image_folder_feeds_fit(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    _fit_one_model_of_each_kind(
        lambda: load_dataset(f"dir:{tmp_path}", batch_size=4, image_size=16, seed=0, repeat=True), (16, 16, 3))


@pytest.mark.parametrize("name", ["gaussian_ring", "gaussian_grid"])
def test_toy_distribution_feeds_fit(name):
    _fit_one_model_of_each_kind(lambda: load_dataset(name, batch_size=16, seed=0, num_examples=256, repeat=True), (2,))
