#!/usr/bin/env python3
"""scikit-learn's 1,797 real 8x8 handwritten digits as a folder gpunet trains on:
DIR/train-images-idx3-ubyte and DIR/t10k-images-idx3-ubyte with their labels
beside them (IDX, as MNIST's files come). Every fifth image (a fixed fifth, by
position) is the test set, which gpunet only scores after training; it never
picks the best epoch (the validation split of the training part does).
Values 0..16 become bytes 0..255 (v * 255 / 16, rounded).

    pip install scikit-learn
    python3 scripts/sklearn-digits.py DIR
    gpunet train --arch ARCH --train DIR
"""
import os
import struct
import sys

from sklearn.datasets import load_digits


def write_idx(path, magic, dims, values):
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack(">I", magic))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(bytes(values))
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    digits = load_digits()
    rows = [(list(img.reshape(-1)), int(label)) for img, label in zip(digits.images, digits.target)]
    sets = {"train": [r for i, r in enumerate(rows) if i % 5 != 4], "t10k": [r for i, r in enumerate(rows) if i % 5 == 4]}
    for name, part in sets.items():
        pixels = [min(255, round(v * 255 / 16)) for img, _ in part for v in img]
        write_idx(os.path.join(out, f"{name}-images-idx3-ubyte"), 0x803, [len(part), 8, 8], pixels)
        write_idx(os.path.join(out, f"{name}-labels-idx1-ubyte"), 0x801, [len(part)], [label for _, label in part])
        print(f"{out}/{name}-images-idx3-ubyte: {len(part)} images of 8x8")


if __name__ == "__main__":
    main()
