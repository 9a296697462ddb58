"""Golden values for tests/golden.rs, from PyTorch on the CPU: one Adam step of
gpunet's cnn6, its mlp, a small batch-norm net and one with strided and 'valid' convs, from weights given by a formula,
on the first 8 images of the embedded MNIST training set. Writes
tests/golden/golden.safetensors (sampled gradients and updated parameters, the
loss; for batch norm also the running statistics after the step and the loss of
the same images in eval mode after it).

    python3 -m venv v && v/bin/pip install torch safetensors numpy
    v/bin/python tests/golden/make_golden.py          # from the repository root

The formula (gpunet's tests/golden.rs computes the same, then rounds to f32):
parameterised layer j (0, 1, ... in order), flat index i in PyTorch's layout,
u(i, j) = hash(i, j) / 2^32 with the 32-bit integer hash below (uniform, exact in
any language; a smooth formula such as sin would repeat across kernels and make
max-pool windows tie, where rounding then picks different winners):
  weight = sqrt(6 / (fan_in + fan_out)) * (2 u(i, 2j) - 1)
  bias   = 0.1 * (2 u(i, 2j + 1) - 1)
with fan_in/fan_out = in/out channels times the kernel area, as Glorot does; a
batch norm's weight (γ) is 1 + 0.2 * (2 u(i, 2j) - 1), its bias (β) as above, and
its running statistics start at PyTorch's 0 and 1.
"""
import gzip, math, os, sys
import numpy as np
import torch
from torch import nn
from safetensors.numpy import save_file

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.abspath(__file__)) + "/../.."
BATCH, SAMPLES = 8, 256


def mnist(n):
    with gzip.open(f"{ROOT}/data/mnist/train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read()[16:16 + n * 784], np.uint8).reshape(n, 1, 28, 28)
    with gzip.open(f"{ROOT}/data/mnist/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read()[8:8 + n], np.uint8)
    return torch.tensor(x.astype(np.float32) / np.float32(255.0)), torch.tensor(y.astype(np.int64))


def cnn6():
    c = lambda i, o, k: [nn.Conv2d(i, o, k, padding="same"), nn.ReLU()]
    return nn.Sequential(*c(1, 32, 5), *c(32, 32, 5), nn.MaxPool2d(2), *c(32, 64, 3), *c(64, 64, 3), nn.MaxPool2d(2),
                         *c(64, 128, 2), *c(128, 128, 2), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1152, 256), nn.ReLU(), nn.Linear(256, 10))


def mlp():
    sizes = [784, 1024, 512, 256, 128, 32]
    layers = [nn.Flatten()]
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(32, 10))


def bn_net():
    """gpunet's conv8k5,bn,pool2,conv16k3,bn,pool2,fc32,bn,out10: ReLU, then batch norm."""
    c = lambda i, o, k: [nn.Conv2d(i, o, k, padding="same"), nn.ReLU(), nn.BatchNorm2d(o)]
    return nn.Sequential(*c(1, 8, 5), nn.MaxPool2d(2), *c(8, 16, 3), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(784, 32), nn.ReLU(), nn.BatchNorm1d(32), nn.Linear(32, 10))


def strided_net():
    """gpunet's conv8k3valid,bn,conv8k5s2,bn,conv16k3s2,bn,fc32,out10: Keras' 'same' for
    stride 2 pads max((out - 1)·s + k - in, 0), the smaller half before (26 -> 13: 1
    before, 2 after; 13 -> 7: 1 and 1), which PyTorch writes as an explicit ZeroPad2d."""
    relu_bn = lambda c: [nn.ReLU(), nn.BatchNorm2d(c)]
    return nn.Sequential(nn.Conv2d(1, 8, 3), *relu_bn(8),
                         nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(8, 8, 5, stride=2), *relu_bn(8),
                         nn.ZeroPad2d((1, 1, 1, 1)), nn.Conv2d(8, 16, 3, stride=2), *relu_bn(16), nn.Flatten(),
                         nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))


def u(i, j):
    """hash(i, j) / 2^32 for an array of indices i (uint64 arithmetic, masked to 32 bits)."""
    m = np.uint64(0xFFFFFFFF)
    h = (i.astype(np.uint64) * np.uint64(2654435761) + np.uint64(j) * np.uint64(40503) + np.uint64(12345)) & m
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x45D9F3B)) & m
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x45D9F3B)) & m
    h ^= h >> np.uint64(16)
    return h.astype(np.float64) / 4294967296.0


def formula_init(model):
    """Returns the parameterised layers in order, their weights and biases set."""
    norms = (nn.BatchNorm1d, nn.BatchNorm2d)
    layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear) + norms)]
    with torch.no_grad():
        for j, m in enumerate(layers):
            w = m.weight
            if isinstance(m, norms):
                i = np.arange(w.numel(), dtype=np.uint64)
                w.copy_(torch.tensor((1.0 + 0.2 * (2.0 * u(i, 2 * j) - 1.0)).astype(np.float32)))
                m.bias.copy_(torch.tensor((0.1 * (2.0 * u(i, 2 * j + 1) - 1.0)).astype(np.float32)))
                continue
            area = w[0, 0].numel() if w.dim() == 4 else 1
            limit = math.sqrt(6.0 / (w.shape[1] * area + w.shape[0] * area))
            i = np.arange(w.numel(), dtype=np.uint64)
            w.copy_(torch.tensor((limit * (2.0 * u(i, 2 * j) - 1.0)).astype(np.float32)).reshape(w.shape))
            ib = np.arange(m.bias.numel(), dtype=np.uint64)
            m.bias.copy_(torch.tensor((0.1 * (2.0 * u(ib, 2 * j + 1) - 1.0)).astype(np.float32)))
    return layers


def golden(name, model, out):
    layers = formula_init(model)
    x, y = mnist(BATCH)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    grads = [(m.weight.grad.clone(), m.bias.grad.clone()) for m in layers]
    opt.step()
    out[f"{name}.loss"] = np.array([loss.item()], np.float32)
    rng = np.random.default_rng(7)
    for j, (m, (gw, gb)) in enumerate(zip(layers, grads)):
        for kind, p, g in [("weight", m.weight, gw), ("bias", m.bias, gb)]:
            flat_p, flat_g = p.detach().reshape(-1).numpy(), g.reshape(-1).numpy()
            idx = np.sort(rng.choice(flat_p.size, min(SAMPLES, flat_p.size), replace=False))
            out[f"{name}.{j}.{kind}.index"] = idx.astype(np.int64)
            out[f"{name}.{j}.{kind}.grad"] = flat_g[idx].astype(np.float32)
            out[f"{name}.{j}.{kind}.after"] = flat_p[idx].astype(np.float32)
    for j, m in enumerate(layers):
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            out[f"{name}.{j}.running_mean"] = m.running_mean.numpy().astype(np.float32)
            out[f"{name}.{j}.running_var"] = m.running_var.numpy().astype(np.float32)
            model.eval()
            with torch.no_grad():
                out[f"{name}.eval_loss"] = np.array([nn.functional.cross_entropy(model(x), y).item()], np.float32)
    print(f"{name}: loss {loss.item():.6f}, {len(layers)} layers")


if __name__ == "__main__":
    out = {}
    golden("cnn6", cnn6(), out)
    golden("mlp", mlp(), out)
    golden("bn", bn_net(), out)
    golden("strided", strided_net(), out)
    meta = {"torch": torch.__version__, "numpy": np.__version__, "batch": str(BATCH), "made_by": "tests/golden/make_golden.py"}
    save_file(out, f"{ROOT}/tests/golden/golden.safetensors", metadata=meta)
    print("wrote tests/golden/golden.safetensors")
