"""Write rnnkit/data/digits.npz: the UCI optical digits, 1,797 images of 8 x 8 pixels.

    .venv/bin/pip download scikit-learn --no-deps -d /tmp/skl
    unzip -o /tmp/skl/scikit_learn-*.whl 'sklearn/datasets/data/digits.csv.gz' -d /tmp/skl
    .venv/bin/python scripts/make_digits.py /tmp/skl/sklearn/datasets/data/digits.csv.gz

Provenance and licence. The images are the test part of "Optical Recognition of
Handwritten Digits" by E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository,
https://doi.org/10.24432/C50P49, under the Creative Commons Attribution 4.0 International
licence (CC BY 4.0). scikit-learn ships the same 1,797 images as
``sklearn/datasets/data/digits.csv.gz`` (``sklearn.datasets.load_digits``); the course reads
that file once, from the wheel, so that neither scikit-learn nor a download is needed to
run it. Each row of the CSV holds 64 pixel counts in 0..16 (a 32 x 32 bitmap summed over
4 x 4 blocks), row by row, then the digit.

The archive holds ``images`` (1797, 8, 8) uint8 in 0..16, ``labels`` (1797,) uint8 in
0..9, ``is_test`` (1797,) bool (a fixed split: 450 images, 45 of each digit, drawn with
NumPy's generator seeded 0) and ``source``, a string with the provenance above.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "rnnkit" / "data" / "digits.npz"
SOURCE = (
    "UCI Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak, 1998), "
    "https://doi.org/10.24432/C50P49, CC BY 4.0; the 1,797 images scikit-learn ships as "
    "sklearn/datasets/data/digits.csv.gz; written by scripts/make_digits.py"
)
TEST_PER_DIGIT = 45


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path, help="digits.csv.gz from scikit-learn's wheel")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with gzip.open(args.csv, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if rows.shape != (1797, 65) or rows[:, :64].min() < 0 or rows[:, :64].max() > 16:
        raise ValueError(f"expected 1797 rows of 64 pixels in 0..16 and a label, got {rows.shape}")
    images = rows[:, :64].reshape(-1, 8, 8).astype(np.uint8)
    labels = rows[:, 64].astype(np.uint8)
    rng = np.random.default_rng(0)
    is_test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):  # the same number of each digit, so test accuracy is balanced
        is_test[rng.choice(np.flatnonzero(labels == digit), TEST_PER_DIGIT, replace=False)] = True
    np.savez_compressed(
        args.out, images=images, labels=labels, is_test=is_test, source=np.array(SOURCE)
    )
    print(f"wrote {args.out}: {len(labels)} images, {is_test.sum()} for testing")


if __name__ == "__main__":
    main()
