"""gpunet's `fast` recipe in PyTorch, the GPU peer of scripts/time_to.py: conv 24
5x5 'valid' + ReLU, max-pool 2, conv 32 5x5 'valid' + ReLU, max-pool 2, dense 256 +
ReLU, dense 10; one epoch of the 60,000 MNIST training images (gpunet's embedded
copy, data/mnist) in shuffled batches of 256 (the last one short, as gpunet's),
Adam with betas (0.7, 0.9) and torch's OneCycleLR (max 0.01, stepped per batch),
pixels / 255, the whole data set on the device; then the t10k accuracy. Strict
fp32 (TF32 off, as gpunet's kernels) unless --tf32. Timed by the caller from
process start, imports and CUDA start-up included. Runs on the CPU where no CUDA
device is there (for checking the script, not for figures).

usage: python3 time_to_torch.py SEED [--tf32] [--limit N]
"""
import argparse, gzip, os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST = os.path.join(HERE, "..", "data", "mnist")
BATCH, LR = 256, 0.01


def idx(name, offset):
    with gzip.open(os.path.join(MNIST, name)) as f:
        return np.frombuffer(f.read()[offset:], np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seed", type=int)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--limit", type=int, help="train on the first N images only (a quick check)")
    a = ap.parse_args()
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.manual_seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.from_numpy(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy())
    y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    xt = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy())
    yt = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
    if a.limit:
        x, y = x[: a.limit], y[: a.limit]
    x, xt = (x.to(dev).float() / 255), (xt.to(dev).float() / 255)
    y, yt = y.to(dev), yt.to(dev)
    model = nn.Sequential(
        nn.Conv2d(1, 24, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(24, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 10),
    ).to(dev)
    steps = (len(x) + BATCH - 1) // BATCH
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.7, 0.9))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    order = torch.randperm(len(x), device=dev)
    model.train()
    for s in range(steps):
        b = order[s * BATCH:(s + 1) * BATCH]
        loss = F.cross_entropy(model(x[b]), y[b])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        right = sum((model(xt[i:i + 2000]).argmax(1) == yt[i:i + 2000]).sum().item() for i in range(0, len(xt), 2000))
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    print(f"RESULT test_accuracy {right / len(xt):.4f} device {name} tf32 {a.tf32}")


if __name__ == "__main__":
    main()
