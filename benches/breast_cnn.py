"""PyTorch peer of scenarios/medical-imaging.yaml: the same convolution stem,
hidden layer, dropout, optimiser, epochs and best-epoch rule on the same
BreastMNIST split, five networks averaged per seed group.

    python benches/breast_cnn.py DATA_DIR/medical/breastmnist.npz --seeds 7 1 2 --out peer.json

Network s of the group for seed S starts from torch seed S + s. Prints one
line per seed and writes {"seeds": {S: {"roc_auc", "seconds"}}} to --out.
"""
import argparse, json, time

import numpy as np
import torch


def roc_auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def network():
    layers, channels = [], 1
    for filters in (16, 32):
        layers += [torch.nn.Conv2d(channels, filters, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        channels = filters
    layers += [torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(32 * 7 * 7, 64),
               torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(64, 1)]
    net = torch.nn.Sequential(*layers)
    for m in net.modules():  # he_uniform, zero biases, as the scenario says
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
    return net


def train_one(seed, x, y, xv, yv, xt, epochs=40, batch=32):
    torch.manual_seed(seed)
    net = network()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    loss = torch.nn.functional.binary_cross_entropy_with_logits
    best, best_p = float("inf"), None
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss(net(x[idx]).squeeze(1), y[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            v = loss(net(xv).squeeze(1), yv).item()
            if v < best:
                best, best_p = v, torch.sigmoid(net(xt).squeeze(1)).numpy()
    return best_p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("npz")
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2])
    ap.add_argument("--networks", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d = np.load(a.npz)
    grid = lambda k: torch.tensor(d[k].astype(np.float32)[:, None] / 255.0)  # pixel_scaling: max_value
    label = lambda k: d[k].ravel().astype(np.float32)
    x, xv, xt = grid("train_images"), grid("val_images"), grid("test_images")
    y, yv, yt = torch.tensor(label("train_labels")), torch.tensor(label("val_labels")), label("test_labels")
    result = {}
    for seed in a.seeds:
        start = time.perf_counter()
        probs = [train_one(seed + s, x, y, xv, yv, xt) for s in range(a.networks)]
        seconds = time.perf_counter() - start
        auc = roc_auc(yt, np.mean(probs, axis=0))
        result[seed] = {"roc_auc": auc, "seconds": seconds}
        print(f"pytorch seed {seed}: roc_auc {auc:.4f} ({seconds:.1f} s for {a.networks} networks)", flush=True)
    if a.out:
        json.dump({"seeds": result}, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
