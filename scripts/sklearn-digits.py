#!/usr/bin/env python3
"""scikit-learn's 1,797 real 8x8 handwritten digits as folders gpunet trains on:
DIR/train/<digit>/NNNN.pgm and DIR/test/<digit>/NNNN.pgm, class folders of
8-bit greyscale PGM pictures (which need no imaging library to write). Every
fifth image (a fixed fifth, by position) is the test set, which gpunet only
scores after training; it never picks the best epoch (the validation split of
the training part does). Values 0..16 become 0..255 (v * 255 / 16, rounded).

    pip install scikit-learn
    python3 scripts/sklearn-digits.py DIR
    gpunet train --arch ARCH --train DIR
"""
import os
import sys

from sklearn.datasets import load_digits


def write_pgm(path, pixels):
    with open(path + ".tmp", "wb") as f:
        f.write(b"P5\n8 8\n255\n" + bytes(pixels))
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    digits = load_digits()
    counts = {"train": 0, "test": 0}
    for i, (img, label) in enumerate(zip(digits.images, digits.target)):
        part = "test" if i % 5 == 4 else "train"
        folder = os.path.join(out, part, str(int(label)))
        os.makedirs(folder, exist_ok=True)
        write_pgm(os.path.join(folder, f"{i:04d}.pgm"), [min(255, round(v * 255 / 16)) for v in img.reshape(-1)])
        counts[part] += 1
    for part, n in counts.items():
        print(f"{out}/{part}: {n} pictures of 8x8 in 10 class folders")


if __name__ == "__main__":
    main()
