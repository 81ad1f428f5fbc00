"""rnnkit.tasks.digits: the shipped UCI digits, their fixed split and their provenance."""

from importlib import resources

import numpy as np
import torch

from rnnkit.tasks import digits


def test_digits_split_is_fixed_balanced_and_disjoint():
    x_train, y_train, x_test, y_test = digits()
    assert x_train.shape == (1347, 8, 8) and x_test.shape == (450, 8, 8)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert 0.0 <= float(x_train.min()) and float(x_train.max()) == 1.0
    assert torch.equal(torch.bincount(y_test), torch.full((10,), 45))
    assert torch.equal(torch.bincount(y_train) + 45, torch.bincount(torch.cat([y_train, y_test])))
    again = digits()
    assert torch.equal(again[2], x_test) and torch.equal(again[3], y_test)


def test_digits_are_the_uci_pixel_counts_with_their_licence():
    with resources.files("rnnkit").joinpath("data/digits.npz").open("rb") as f:
        data = np.load(f)
        images, labels, source = data["images"], data["labels"], str(data["source"])
    assert images.dtype == np.uint8 and images.max() == 16 and labels.shape == (1797,)
    assert "CC BY 4.0" in source and "UCI" in source
    # the first image of the file is a zero, as in scikit-learn's load_digits()
    assert labels[0] == 0 and images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    x = torch.cat([digits()[0], digits()[2]])
    assert abs(float(x.sum()) * 16 - float(images.sum())) < 1e-3 * float(images.sum())
