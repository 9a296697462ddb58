"""PyTorch peer for gpunet's side-by-side GPU benchmark (CUDA machine).

Same networks (cnn6 = the blog's 6-conv CNN, 'same' padding as Keras: even kernels
pad after), same data (embedded MNIST's 60,000 training rows split 80/20 -> 48,000
training images, as `gpunet train --arch cnn6`), batch 500, Adam(1e-3), pixels / 255. Times one epoch of training
(train only, synchronised) in two modes:
  fp32     strict fp32: TF32 off for convolutions and matmuls (gpunet's kernels are fp32)
  tf32     TF32 allowed in cuDNN convolutions (PyTorch's default) and in matmuls
  amp      torch.autocast(float16) with channels_last and a GradScaler: PyTorch's
           mixed precision, the peer of `gpunet --precision mixed`
and a 4096^3 matmul in each (amp: f32 operands cast to f16 inside the timing, as
gpunet's mixed core rounds them inside its kernel). Prints one `RESULT {json}` line per figure,
and with --out writes them all to one JSON file (rewritten as each arrives, so a time limit keeps them).
usage: python3 scripts/torch_peer.py [epochs] [--out FILE]
"""
import gzip, json, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "mnist")


def idx(name):
    with gzip.open(os.path.join(DATA, name + ".gz"), "rb") as f:
        b = f.read()
    if b[2] == 8 and b[3] == 3:
        n = int.from_bytes(b[4:8], "big")
        return np.frombuffer(b[16:], np.uint8).reshape(n, 1, 28, 28)
    return np.frombuffer(b[8:], np.uint8).astype(np.int64)


class SamePadConv(nn.Module):
    """Conv2d 'same' with Keras/TF padding: (k-1)//2 before, the rest after."""
    def __init__(self, cin, cout, k):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k)
        self.pad = ((k - 1) // 2, k - 1 - (k - 1) // 2) * 2  # left, right, top, bottom

    def forward(self, x):
        return F.relu(self.conv(F.pad(x, self.pad)))


def cnn6():
    return nn.Sequential(
        SamePadConv(1, 32, 5), SamePadConv(32, 32, 5), nn.MaxPool2d(2),
        SamePadConv(32, 64, 3), SamePadConv(64, 64, 3), nn.MaxPool2d(2),
        SamePadConv(64, 128, 2), SamePadConv(128, 128, 2), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128 * 3 * 3, 256), nn.ReLU(), nn.Linear(256, 10))


def set_mode(mode):
    """fp32: strict fp32 everywhere; tf32: TF32 allowed in cuDNN convolutions (PyTorch's default) and matmuls."""
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"


def epoch_times(mode, epochs, Xtr, ytr, Xva, yva):
    set_mode(mode)
    torch.manual_seed(42)
    amp = mode == "amp"
    model = cnn6().cuda()
    if amp:
        model = model.to(memory_format=torch.channels_last)
        Xtr, Xva = (x.contiguous(memory_format=torch.channels_last) for x in (Xtr, Xva))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    try:
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
    except (AttributeError, TypeError):  # PyTorch before 2.3
        scaler = torch.cuda.amp.GradScaler(enabled=amp)
    n = Xtr.shape[0]
    times = []
    for e in range(epochs):
        perm = torch.randperm(n, device="cuda")
        torch.cuda.synchronize()
        t = time.perf_counter()
        for i in range(0, n, 500):
            idx_ = perm[i:i + 500]
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                loss = F.cross_entropy(model(Xtr[idx_]), ytr[idx_])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
        acc = sum((model(Xva[i:i + 1000]).argmax(1) == yva[i:i + 1000]).sum().item() for i in range(0, Xva.shape[0], 1000)) / Xva.shape[0]
    return times, acc


def matmul(mode):
    set_mode(mode)
    a = torch.randn(4096, 4096, device="cuda"); b = torch.randn(4096, 4096, device="cuda")
    mul = (lambda: a.half() @ b.half()) if mode == "amp" else (lambda: a @ b)
    for _ in range(3):
        mul()
    torch.cuda.synchronize()
    ts = []
    for _ in range(10):
        t = time.perf_counter(); mul(); torch.cuda.synchronize(); ts.append(time.perf_counter() - t)
    med = sorted(ts)[len(ts) // 2]
    return med, 2 * 4096 ** 3 / med / 1e12


def main():
    args = sys.argv[1:]
    out = None
    if "--out" in args:
        i = args.index("--out")
        out = args[i + 1]
        del args[i:i + 2]
    epochs = int(args[0]) if args else 3
    results = []

    def emit(record):
        print("RESULT " + json.dumps(record), flush=True)
        results.append(record)
        if out:
            tmp = out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(results, f, indent=1)
            os.replace(tmp, out)

    X = idx("train-images-idx3-ubyte").astype(np.float32) / 255.0
    y = idx("train-labels-idx1-ubyte")
    rng = np.random.default_rng(42)
    p = rng.permutation(60000)
    tr, va = p[:48000], p[48000:]
    dev = lambda a: torch.from_numpy(np.ascontiguousarray(a)).cuda()
    Xtr, ytr, Xva, yva = dev(X[tr]), dev(y[tr]), dev(X[va]), dev(y[va])
    info = dict(torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                device=torch.cuda.get_device_name(0))
    # strict fp32 first: gpunet's kernels are fp32, so that is the like-for-like figure
    for mode in ["fp32", "tf32", "amp"]:
        ms, tflops = matmul(mode)
        emit(dict(name=f"torch_matmul4096_{mode}", median_ms=round(ms * 1e3, 3), tflops=round(tflops, 1), **info))
        times, acc = epoch_times(mode, epochs, Xtr, ytr, Xva, yva)
        post = times[1:] or times
        med = sorted(post)[len(post) // 2]
        emit(dict(name=f"torch_cnn6_{mode}", epoch_times_s=[round(t, 3) for t in times],
                  median_s_per_epoch_after_warmup=round(med, 3), img_per_s=round(48000 / med, 1), val_acc=acc, **info))


if __name__ == "__main__":
    main()
