"""Keras/TensorFlow-CPU training the pinned colour-photo net of scripts/peer-cifar.sh
on CIFAR-10 binary batches, timed per epoch (train only), for a same-run ratio
with gpunet's native engine.

    python peer_cifar.py DIR ROWS EPOCHS BATCH

DIR holds data_batch_*.bin (CIFAR-10's records: a label byte, then 1,024 red,
1,024 green and 1,024 blue bytes). The first ROWS records are read in file order
and split as gpunet splits them: the first 80% train, the rest validate. Pixels
/ 255, Adam(1e-3), no augmentation, no shuffling cost beyond Keras's own. Ends
with a `RESULT {json}` line like ../shared/peer/bench_keras.py.
"""
import glob
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
import keras
from keras import layers

RECORD = 1 + 3 * 32 * 32


def read(folder, rows):
    files = sorted(glob.glob(os.path.join(folder, "data_batch_*.bin")))
    if not files:
        sys.exit(f"{folder}: no data_batch_*.bin")
    raw = np.concatenate([np.fromfile(f, np.uint8) for f in files]).reshape(-1, RECORD)[:rows]
    x = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32) / 255.0
    return x, raw[:, 0].astype(np.int64)


def pinned():
    """conv32k3lin,bn,relu,conv64k3lin,bn,relu,pool2,conv128k3lin,bn,relu,pool2,
    conv256k3lin,bn,relu,pool2,gap,out10 ('same' convolutions with bias)."""
    m = keras.Sequential([keras.Input((32, 32, 3))])
    for channels, pool in [(32, False), (64, True), (128, True), (256, True)]:
        m.add(layers.Conv2D(channels, 3, padding="same"))
        m.add(layers.BatchNormalization(momentum=0.9, epsilon=1e-5))  # gpunet's (PyTorch's) 0.1, 1e-5
        m.add(layers.ReLU())
        if pool:
            m.add(layers.MaxPooling2D(2))
    m.add(layers.GlobalAveragePooling2D())
    m.add(layers.Dense(10, activation="softmax"))
    return m


class EpochTimer(keras.callbacks.Callback):
    """Train-only epoch time: epoch begin -> last train batch end."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.t_last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(self.t_last - self.t0)
        print(f"  epoch {epoch + 1}: train {self.times[-1]:.2f}s  loss={logs.get('loss'):.4f}  "
              f"acc={logs.get('accuracy'):.4f}  val_acc={logs.get('val_accuracy'):.4f}", flush=True)


def main():
    folder, rows, epochs, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    x, y = read(folder, rows)
    n = int(len(x) * 0.8)
    model = pinned()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    hist = model.fit(x[:n], y[:n], batch_size=batch, epochs=epochs,
                     validation_data=(x[n:], y[n:]), callbacks=[timer], verbose=0)
    after = timer.times[1:] if len(timer.times) > 1 else timer.times
    med = statistics.median(after)
    print("RESULT " + json.dumps(dict(
        name="cifar_pinned", n_train=n, batch=batch,
        epoch_times_s=[round(t, 2) for t in timer.times],
        median_s_per_epoch_after_warmup=round(med, 2), img_per_s=round(n / med, 1),
        val_acc=hist.history.get("val_accuracy"), tf=tf.__version__, keras=keras.__version__,
        intra=tf.config.threading.get_intra_op_parallelism_threads(),
        cpus=len(os.sched_getaffinity(0)))), flush=True)


if __name__ == "__main__":
    main()
