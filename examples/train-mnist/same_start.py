#!/usr/bin/env python3
"""Record a PyTorch baseline run so train-mnist can train from the very same start (reference only).

Runs the loop of ../../../shared/bench/train_bench.py for one seed (PyTorch's default
initialization, or Keras's with "keras": glorot_uniform kernels and zero biases), prints the test
accuracy after each epoch, and writes to OUT what kiln needs to repeat the run: the starting kernels
in Keras layout (conv2d_kernel.npy and conv2d_1_kernel.npy as (kh, kw, in, out); dense_kernel.npy as
(1600, 10) with rows in Keras's Flatten order, height, width, channel), the biases, and each epoch's
sample order (perm<epoch>.npy). Then:

    go run ./examples/train-mnist -same-start OUT

usage: /usr/bin/python3 same_start.py SEED OUT [torch|keras] [--data DIR]
"""
import argparse, gzip, json, os
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seed", type=int)
    ap.add_argument("out")
    ap.add_argument("init", nargs="?", default="torch", choices=["torch", "keras"])
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "datasets", "mnist10k"))
    a = ap.parse_args()
    with gzip.open(os.path.join(a.data, "images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(os.path.join(a.data, "labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    xtr, ytr, xte, yte = map(torch.from_numpy, (x[:8000], y[:8000], x[8000:], y[8000:]))
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    # The same calls in the same order as train_bench.py, so seed 0 is its run.
    torch.manual_seed(a.seed)
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 10))
    if a.init == "keras":
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
    c1, c2, fc = net[0], net[3], net[7]
    for name, conv in (("conv2d", c1), ("conv2d_1", c2)):
        np.save(os.path.join(a.out, name + "_kernel.npy"), conv.weight.detach().numpy().transpose(2, 3, 1, 0).copy())
        np.save(os.path.join(a.out, name + "_bias.npy"), conv.bias.detach().numpy().copy())
    w = fc.weight.detach().numpy().reshape(10, 64, 5, 5).transpose(2, 3, 1, 0).reshape(1600, 10).copy()
    np.save(os.path.join(a.out, "dense_kernel.npy"), w)
    np.save(os.path.join(a.out, "dense_bias.npy"), fc.bias.detach().numpy().copy())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    lossf = nn.CrossEntropyLoss()
    for ep in range(4):
        perm = torch.randperm(8000)
        np.save(os.path.join(a.out, "perm%d.npy" % ep), perm.numpy().astype(np.int64))
        net.train()
        for i in range(0, 8000, 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            lossf(net(xtr[idx]), ytr[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            acc = (net(xte).argmax(1) == yte).float().mean().item()
        print(json.dumps({"seed": a.seed, "init": a.init, "epoch": ep + 1, "test_acc": round(acc, 4)}), flush=True)


if __name__ == "__main__":
    main()
