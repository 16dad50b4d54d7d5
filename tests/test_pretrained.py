"""`ganzoo.pretrained(name)` and `ganzoo sample NAME`: the shipped exports by short name."""

import numpy as np
import pytest
from PIL import Image

import ganzoo
from ganzoo.export import ExportError, shipped_pretrained
from ganzoo.export.pretrained import PRETRAINED_ENV_VAR


def test_shipped_exports_are_found_by_short_name():
    shipped = shipped_pretrained()
    assert {"dcgan_mnist_sample", "cdcgan_mnist_sample"} <= set(shipped)
    assert all(path.name == f"{name}_pretrained" for name, path in shipped.items())
    gen = ganzoo.pretrained("cdcgan_mnist_sample")
    assert gen.backend == "onnx" and gen.class_names == [str(d) for d in range(10)]
    sevens = gen.generate(3, seed=0, labels=7)
    assert sevens.shape == (3, 28, 28, 1) and sevens.dtype == np.float32
    # The long name works too, and gives the same generator.
    np.testing.assert_array_equal(ganzoo.pretrained("cdcgan_mnist_sample_pretrained").generate(3, seed=0, labels=7),
                                  sevens)


def test_an_unknown_name_lists_the_shipped_ones(tmp_path, monkeypatch):
    with pytest.raises(ExportError, match="No shipped pretrained generator named 'dcgan_cifar10'") as error:
        ganzoo.pretrained("dcgan_cifar10")
    assert "dcgan_mnist_sample" in str(error.value) and "cdcgan_mnist_sample" in str(error.value)
    monkeypatch.setenv(PRETRAINED_ENV_VAR, str(tmp_path))
    with pytest.raises(ExportError, match=f"none found in {tmp_path}"):
        ganzoo.pretrained("dcgan_mnist_sample")


def test_sample_and_list_take_shipped_names(tmp_path, run_main):
    out = tmp_path / "sevens.png"
    code, _, err = run_main(["sample", "cdcgan_mnist_sample", "--label", "7", "--n", "4", "--out", out])
    assert code == 0, err
    assert Image.open(out).size == (2 * 29 + 1, 2 * 29 + 1)
    code, _, err = run_main(["sample", "no_such_model", "--out", out])
    assert code == 2 and "shipped pretrained generator (" in err and "cdcgan_mnist_sample" in err
    code, out, _ = run_main(["list"])
    assert code == 0 and "Pretrained generators" in out
    assert "cdcgan_mnist_sample      DCGAN on mnist_sample, conditional on 10 classes" in out
