"""gpunet's `fast` recipe in Keras/TensorFlow-CPU, the peer of scripts/time_to.py:
conv 24 5x5 'valid' + ReLU, max-pool 2, conv 32 5x5 'valid' + ReLU, max-pool 2,
dense 256 + ReLU, dense 10 softmax; one epoch of the 60,000 MNIST training images
(gpunet's embedded copy, data/mnist) in shuffled batches of 256, Adam with betas
(0.7, 0.9) and PyTorch's one-cycle rate (max 0.01: 30% cosine warm-up from
max/25, cosine down to max/25e4, stepped per batch), pixels / 255; then the t10k
accuracy. Timed by the caller from process start, imports included.

usage: python time_to_keras.py SEED
"""
import gzip, math, os, sys

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST = os.path.join(HERE, "..", "data", "mnist")
BATCH, LR, EPOCHS = 256, 0.01, 1


def idx(name, offset):
    with gzip.open(os.path.join(MNIST, name)) as f:
        return np.frombuffer(f.read()[offset:], np.uint8)


class OneCycle(tf.keras.optimizers.schedules.LearningRateSchedule):
    """torch.optim.lr_scheduler.OneCycleLR's default policy (cos anneal, pct_start 0.3)."""

    def __init__(self, max_lr, total):
        self.max_lr, self.total = max_lr, total

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        up = 0.3 * self.total - 1
        lo, end = self.max_lr / 25, self.max_lr / 25 / 1e4

        def cos(a, b, pct):
            return b + (a - b) / 2 * (1 + tf.cos(math.pi * pct))

        return tf.where(step <= up, cos(lo, self.max_lr, step / up),
                        cos(self.max_lr, end, (step - up) / (self.total - 1 - up)))


def main():
    seed = int(sys.argv[1])
    tf.keras.utils.set_random_seed(seed)
    x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1).astype(np.float32) / 255
    y = idx("train-labels-idx1-ubyte.gz", 8).astype(np.int32)
    xt = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1).astype(np.float32) / 255
    yt = idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int32)
    L = tf.keras.layers
    model = tf.keras.Sequential([
        L.Input((28, 28, 1)),
        L.Conv2D(24, 5, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(32, 5, activation="relu"), L.MaxPooling2D(2),
        L.Flatten(), L.Dense(256, activation="relu"), L.Dense(10, activation="softmax"),
    ])
    steps = math.ceil(len(x) / BATCH) * EPOCHS
    opt = tf.keras.optimizers.Adam(OneCycle(LR, steps), beta_1=0.7, beta_2=0.9, epsilon=1e-8)
    model.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0)
    _, acc = model.evaluate(xt, yt, batch_size=1000, verbose=0)
    print(f"RESULT test_accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
