#!/usr/bin/env python3
"""Seed study of the PyTorch baseline for the MNIST convnet (reference only; not part of kiln).

The loop of ../../../shared/bench/train_bench.py (Conv2d 32 - MaxPool - Conv2d 64 - MaxPool - Linear
10, Adam lr 1e-3 eps 1e-7, batch 128, 4 epochs on the first 8000 digits of mnist10k, accuracy on
the last 2000), run for several seeds, with PyTorch's default initialization ("torch") or Keras's
(glorot_uniform kernels, zero biases: "keras"). Prints one JSON line per seed.

usage: /usr/bin/python3 torch_seeds.py keras|torch FIRST_SEED END_SEED [--data DIR]
"""
import argparse, gzip, json, os
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("init", choices=["keras", "torch"])
    ap.add_argument("first", type=int)
    ap.add_argument("end", type=int)
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "datasets", "mnist10k"))
    a = ap.parse_args()
    with gzip.open(os.path.join(a.data, "images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(os.path.join(a.data, "labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    xtr, ytr, xte, yte = map(torch.from_numpy, (x[:8000], y[:8000], x[8000:], y[8000:]))
    torch.set_num_threads(2)
    for seed in range(a.first, a.end):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 10))
        if a.init == "keras":
            for m in net:
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
        lossf = nn.CrossEntropyLoss()
        for _ in range(4):
            perm = torch.randperm(8000)
            for i in range(0, 8000, 128):
                idx = perm[i:i + 128]
                opt.zero_grad()
                lossf(net(xtr[idx]), ytr[idx]).backward()
                opt.step()
        with torch.no_grad():
            acc = (net(xte).argmax(1) == yte).float().mean().item()
        print(json.dumps({"init": a.init, "seed": seed, "acc": acc}), flush=True)


if __name__ == "__main__":
    main()
