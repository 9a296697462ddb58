#!/usr/bin/env python3
"""Colour photos of real digits, for trying gpunet on RGB images of another size
without downloading anything: each MNIST digit (the repo's data/mnist files)
placed at a random spot of a 32x32 picture, in a random ink colour on a random
paper colour (their brightness at least 96 apart, either one the lighter), as
four-dimensional IDX files (N, 3, 32, 32) named as MNIST's:
DIR/train-images-idx4-ubyte (60,000) and DIR/t10k-images-idx4-ubyte (10,000),
labels beside them. Seeded: the same files every time.

With --cifar10 the same pictures are written as CIFAR-10's binary batches
instead (DIR/data_batch_1..5.bin of 12,000 records, DIR/test_batch.bin,
DIR/batches.meta.txt); with --cifar100 a 100-class set in CIFAR-100's layout:
two digits side by side, each shrunk to 16x16 (area average), class = 10·left
+ right (fine), coarse = class // 5 (DIR/train.bin of 60,000, DIR/test.bin of
10,000, with fine_label_names.txt and coarse_label_names.txt).

    python3 scripts/colour-digits.py DIR [--cifar10 | --cifar100]
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


def shrink(digit):
    """A 28x28 digit as 16x16, each target cell the area average of the source it covers."""
    out = bytearray(256)
    scale = 28 / 16
    for ty in range(16):
        for tx in range(16):
            total = 0.0
            y0, y1 = ty * scale, (ty + 1) * scale
            x0, x1 = tx * scale, (tx + 1) * scale
            for y in range(int(y0), min(28, int(y1 + 0.999))):
                wy = min(y1, y + 1) - max(y0, y)
                for x in range(int(x0), min(28, int(x1 + 0.999))):
                    wx = min(x1, x + 1) - max(x0, x)
                    if wx > 0 and wy > 0:
                        total += wx * wy * digit[y * 28 + x]
            out[ty * 16 + tx] = min(255, round(total / (scale * scale)))
    return bytes(out)


def pair(left, right, rng):
    """Two shrunk digits side by side on a 32x32 picture, in one ink on one paper."""
    paper, ink = colours(rng)
    oy = rng.randrange(SIDE - 16 + 1)
    planes = [bytearray([paper[c]] * (SIDE * SIDE)) for c in range(3)]
    for k, digit in enumerate((left, right)):
        for y in range(16):
            for x in range(16):
                a = digit[y * 16 + x]
                if a:
                    at = (oy + y) * SIDE + 16 * k + x
                    for c in range(3):
                        planes[c][at] = (paper[c] * (255 - a) + ink[c] * a + 127) // 255
    return b"".join(planes)


def replace(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def cifar10(out):
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    replace(os.path.join(out, "batches.meta.txt"), ("\n".join(names) + "\n").encode())
    for src, seed in [("train", 1), ("t10k", 2)]:
        rng = random.Random(seed)
        n, pixels = read_idx(f"{src}-images-idx3-ubyte")
        _, labels = read_idx(f"{src}-labels-idx1-ubyte")
        records = [bytes([labels[i]]) + picture(pixels[i * 784:(i + 1) * 784], rng) for i in range(n)]
        if src == "train":
            for b in range(5):
                replace(os.path.join(out, f"data_batch_{b + 1}.bin"), b"".join(records[b * n // 5:(b + 1) * n // 5]))
        else:
            replace(os.path.join(out, "test_batch.bin"), b"".join(records))
        print(f"{out}: {n} {src} records of CIFAR-10's layout")


def cifar100(out):
    replace(os.path.join(out, "fine_label_names.txt"), "".join(f"{c:02d}\n" for c in range(100)).encode())
    replace(os.path.join(out, "coarse_label_names.txt"), "".join(f"{c * 5:02d}-{c * 5 + 4:02d}\n" for c in range(20)).encode())
    for src, dst, seed in [("train", "train.bin", 3), ("t10k", "test.bin", 4)]:
        rng = random.Random(seed)
        n, pixels = read_idx(f"{src}-images-idx3-ubyte")
        _, labels = read_idx(f"{src}-labels-idx1-ubyte")
        small = [shrink(pixels[i * 784:(i + 1) * 784]) for i in range(n)]
        records = []
        for _ in range(n):
            i, j = rng.randrange(n), rng.randrange(n)
            fine = 10 * labels[i] + labels[j]
            records.append(bytes([fine // 5, fine]) + pair(small[i], small[j], rng))
        replace(os.path.join(out, dst), b"".join(records))
        print(f"{out}/{dst}: {n} records of CIFAR-100's layout")


def write(path, head, body):
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack(">" + "I" * len(head), *head))
        f.write(body)
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in ("--cifar10", "--cifar100")):
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if sys.argv[2:] == ["--cifar10"]:
        return cifar10(out)
    if sys.argv[2:] == ["--cifar100"]:
        return cifar100(out)
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
