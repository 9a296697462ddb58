#!/usr/bin/env python3
"""Colour photos of real digits, for trying gpunet on RGB images of another size
without downloading anything: each MNIST digit (the repo's data/mnist files)
placed at a random spot of a 32x32 picture, in a random ink colour on a random
paper colour (their brightness at least 96 apart, either one the lighter), as
four-dimensional IDX files (N, 3, 32, 32) named as MNIST's:
DIR/train-images-idx4-ubyte (60,000) and DIR/t10k-images-idx4-ubyte (10,000),
labels beside them. Seeded: the same files every time.

    python3 scripts/colour-digits.py DIR
    gpunet train --arch ARCH --train DIR
"""
import gzip
import os
import random
import struct
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")
SIDE = 32


def read_idx(name):
    with gzip.open(os.path.join(HERE, name + ".gz")) as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 0x803:
        return n, data[16:]
    return n, data[8:]


def colours(rng):
    while True:
        paper = [rng.randrange(256) for _ in range(3)]
        ink = [rng.randrange(256) for _ in range(3)]
        if abs(sum(paper) - sum(ink)) >= 3 * 96:
            return paper, ink


def picture(digit, rng):
    paper, ink = colours(rng)
    ox, oy = rng.randrange(SIDE - 28 + 1), rng.randrange(SIDE - 28 + 1)
    planes = [bytearray([paper[c]] * (SIDE * SIDE)) for c in range(3)]
    for y in range(28):
        for x in range(28):
            a = digit[y * 28 + x]
            if a:
                at = (oy + y) * SIDE + ox + x
                for c in range(3):
                    planes[c][at] = (paper[c] * (255 - a) + ink[c] * a + 127) // 255
    return b"".join(planes)


def write(path, head, body):
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack(">" + "I" * len(head), *head))
        f.write(body)
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for src, dst, seed in [("train", "train", 1), ("t10k", "t10k", 2)]:
        rng = random.Random(seed)
        n, pixels = read_idx(f"{src}-images-idx3-ubyte")
        _, labels = read_idx(f"{src}-labels-idx1-ubyte")
        body = b"".join(picture(pixels[i * 784:(i + 1) * 784], rng) for i in range(n))
        write(os.path.join(out, f"{dst}-images-idx4-ubyte"), [0x804, n, 3, SIDE, SIDE], body)
        write(os.path.join(out, f"{dst}-labels-idx1-ubyte"), [0x801, n], labels)
        print(f"{out}/{dst}-images-idx4-ubyte: {n} pictures of 3x{SIDE}x{SIDE}")


if __name__ == "__main__":
    main()
