"""gpunet's ONNX export read by ONNX Runtime: for each named arch (random weights,
running statistics away from 0 and 1) and a batch-norm, strided, 'valid' net,
export-onnx's graph on t10k digits against `gpunet predict --probs`, max |diff|.

usage: python3 scripts/onnx-check.py [GPUNET]   (needs: pip install onnxruntime numpy)
"""
import csv, gzip, os, subprocess, sys, tempfile
import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
G = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "target", "release", "gpunet")
ROWS = 64


def run(*args):
    out = subprocess.run([G, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"gpunet {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def main():
    with gzip.open(os.path.join(HERE, "..", "data", "mnist", "t10k-images-idx3-ubyte.gz")) as f:
        pixels = np.frombuffer(f.read()[16:16 + ROWS * 784], np.uint8).reshape(ROWS, 1, 28, 28)
    archs = [line.split()[0] for line in run("archs").splitlines() if line and not line.startswith((" ", "mlp:", "or "))]
    archs.append("conv8k3validlin,bn,relu,conv16k5s2,bn,pool2,conv16k4s3,drop0.3,fc32lin,bn,relu,out10")
    worst_all = 0.0
    with tempfile.TemporaryDirectory() as d:
        images = os.path.join(d, "t10k.csv")
        with open(images, "w") as f:
            f.write(",".join(f"pixel{i}" for i in range(784)) + "\n")
            for row in pixels.reshape(ROWS, 784):
                f.write(",".join(map(str, row)) + "\n")
        for arch in archs:
            run_dir = os.path.join(d, "run")
            subprocess.run(["rm", "-rf", run_dir])
            # one step on 100 images: weights that are not the init's, running statistics that moved
            run("train", "--device", "cpu", "--arch", arch, "--limit", "100", "--batch-size", "100",
                "--val-split", "0", "--epochs", "1", "--out", run_dir)
            onnx = os.path.join(d, "model.onnx")
            probs_csv = os.path.join(d, "probs.csv")
            run("export-onnx", "--model", run_dir, "--out", onnx)
            run("predict", "--device", "cpu", "--model", run_dir, "--input", images,
                "--out", os.path.join(d, "sub.csv"), "--probs", probs_csv)
            with open(probs_csv) as f:
                want = np.array([[float(v) for v in r[1:]] for r in list(csv.reader(f))[1:]], np.float32)
            got = ort.InferenceSession(onnx).run(["probs"], {"pixels": pixels.astype(np.float32)})[0]
            worst = float(np.abs(got - want).max())
            worst_all = max(worst_all, worst)
            print(f"{arch:<12.12} max |onnxruntime - gpunet predict| = {worst:.2e}")
    print(f"onnxruntime {ort.__version__}: worst {worst_all:.2e} over {len(archs)} nets, {ROWS} t10k digits")
    sys.exit(0 if worst_all <= 1e-5 else 1)


if __name__ == "__main__":
    main()
