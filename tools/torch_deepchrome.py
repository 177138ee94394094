#!/usr/bin/python3
"""Standalone PyTorch reference trainer for DeepChrome (and the linear / mlp baselines).

Used to compare our C++ trainer against PyTorch on the same data and machine
(speed: seconds per training epoch; accuracy: validation / test AUROC).

Usage:
  /usr/bin/python3 tools/torch_deepchrome.py --cell-dir data/sim/S01 --epochs 10 \
      --batch-size 1 --lr 1e-3 --lr-decay 1e-7 --seed 1 --threads 2 \
      [--model deepchrome|linear|mlp] [--max-train-genes N] [--json out.json]
  /usr/bin/python3 tools/torch_deepchrome.py --split-dir tests/data/toy --epochs 2

Data: <cell-dir>/classification/{train,valid,test}.csv (or <split-dir>/{...}.csv),
rows `GeneID,BinID,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3,Label`, no header,
100 consecutive rows per gene. One gene's input is (5 marks, 100 bins).

Training follows the DeepChrome paper: plain SGD, lr_t = lr / (1 + t * lr_decay)
(t = number of steps taken so far, as torch7 optim.sgd), no momentum, no weight decay,
shuffled each epoch, dropout 0.5 while training. After every epoch valid and test
AUROC are computed (eval mode, P(high) = exp(logp[:, 1])); the best-valid epoch is kept.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_BINS = 100
N_MARKS = 5


# ----------------------------------------------------------------------------- models

class DeepChrome(nn.Module):
    """Conv1d(5->50,k10) ReLU MaxPool(5,5) Flatten(900) Dropout(.5)
    Linear(900->625) ReLU Linear(625->125) ReLU Linear(125->2) LogSoftmax."""

    def __init__(self, dropout=0.5):
        super().__init__()
        self.conv = nn.Conv1d(N_MARKS, 50, 10)
        self.fc1 = nn.Linear(900, 625)
        self.fc2 = nn.Linear(625, 125)
        self.out = nn.Linear(125, 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):  # x: (B, 5, 100)
        h = F.relu(self.conv(x))                 # (B, 50, 91)
        h = F.max_pool1d(h, 5, 5)                # (B, 50, 18)
        h = h.reshape(h.shape[0], -1)            # (B, 900), channel-major
        h = self.dropout(h)
        h = F.relu(self.fc1(h))
        h = F.relu(self.fc2(h))
        return F.log_softmax(self.out(h), dim=1)


class Linear(nn.Module):
    """Flatten(500, mark-major: mark*100+bin) Linear(500->2) LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(N_MARKS * N_BINS, 2)

    def forward(self, x):
        return F.log_softmax(self.fc(x.reshape(x.shape[0], -1)), dim=1)


class MLP(nn.Module):
    """Flatten(500) Linear(500->250) Tanh Linear(250->2) LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(N_MARKS * N_BINS, 250)
        self.out = nn.Linear(250, 2)

    def forward(self, x):
        h = torch.tanh(self.fc1(x.reshape(x.shape[0], -1)))
        return F.log_softmax(self.out(h), dim=1)


MODELS = {"deepchrome": DeepChrome, "linear": Linear, "mlp": MLP}


# ----------------------------------------------------------------------------- data

def read_split(path):
    """Read one DeepChrome CSV. Returns (gene_ids list[str], x float32 (G,5,100), y int64 (G))."""
    with open(path, "r") as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    if not lines:
        raise ValueError("%s: empty file" % path)
    if len(lines) % N_BINS:
        raise ValueError("%s: %d rows is not a multiple of %d" % (path, len(lines), N_BINS))
    ids = [ln.split(",", 1)[0] for ln in lines[::N_BINS]]
    # numpy >= 1.23 loadtxt is a fast C parser
    vals = np.loadtxt(lines, delimiter=",", usecols=range(1, 8), dtype=np.int64, ndmin=2)
    if vals.shape[1] != 7:
        raise ValueError("%s: expected 8 columns" % path)
    g = len(lines) // N_BINS
    vals = vals.reshape(g, N_BINS, 7)
    bins = vals[:, :, 0]
    if not (bins == np.arange(1, N_BINS + 1)[None, :]).all():
        bad = np.argwhere(bins != np.arange(1, N_BINS + 1)[None, :])[0]
        raise ValueError("%s: line %d: bin ids not 1..100 in order"
                         % (path, bad[0] * N_BINS + bad[1] + 1))
    counts = vals[:, :, 1:6]
    if (counts < 0).any():
        raise ValueError("%s: negative count" % path)
    labels = vals[:, :, 6]
    if not (labels == labels[:, :1]).all():
        raise ValueError("%s: label changes inside a gene" % path)
    y = labels[:, 0]
    if not np.isin(y, (0, 1)).all():
        raise ValueError("%s: label not 0/1" % path)
    all_ids = [ln.split(",", 1)[0] for ln in lines]
    for gi in range(g):
        block = all_ids[gi * N_BINS:(gi + 1) * N_BINS]
        if block.count(block[0]) != N_BINS:
            raise ValueError("%s: gene %s does not have 100 consecutive rows" % (path, block[0]))
    x = np.ascontiguousarray(counts.transpose(0, 2, 1)).astype(np.float32)  # (G, 5, 100)
    return ids, torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


# ----------------------------------------------------------------------------- metrics

def auroc(scores, labels):
    """Area under the ROC curve, ties handled like sklearn.metrics.roc_auc_score
    (tied scores share the average rank; equals the trapezoidal ROC area)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    n = len(s)
    # average ranks (1-based) over runs of equal scores
    starts = np.concatenate(([0], np.nonzero(np.diff(s_sorted))[0] + 1, [n]))
    for a, b in zip(starts[:-1], starts[1:]):
        ranks[order[a:b]] = (a + 1 + b) / 2.0
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


@torch.no_grad()
def predict(model, x, batch=1024):
    model.eval()
    out = []
    for i in range(0, x.shape[0], batch):
        out.append(model(x[i:i + batch])[:, 1].exp())
    return torch.cat(out).numpy()


# ----------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--cell-dir", help="cell-type directory holding classification/{train,valid,test}.csv")
    src.add_argument("--split-dir", help="directory holding {train,valid,test}.csv directly")
    ap.add_argument("--model", choices=sorted(MODELS), default="deepchrome")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-decay", type=float, default=1e-7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-train-genes", type=int, default=0, help="use only the first N training genes (0 = all)")
    ap.add_argument("--json", help="also write the JSON summary here")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)

    if args.cell_dir:
        d = os.path.join(args.cell_dir, "classification")
        cell = os.path.basename(os.path.normpath(args.cell_dir))
    else:
        d = args.split_dir
        cell = os.path.basename(os.path.normpath(args.split_dir))

    t0 = time.perf_counter()
    _, xtr, ytr = read_split(os.path.join(d, "train.csv"))
    _, xva, yva = read_split(os.path.join(d, "valid.csv"))
    _, xte, yte = read_split(os.path.join(d, "test.csv"))
    if args.max_train_genes > 0:
        xtr, ytr = xtr[:args.max_train_genes], ytr[:args.max_train_genes]
    load_s = time.perf_counter() - t0
    print("loaded %s: train %d valid %d test %d genes in %.2fs (torch %s, %d threads)"
          % (d, len(ytr), len(yva), len(yte), load_s, torch.__version__, torch.get_num_threads()),
          file=sys.stderr)

    model = MODELS[args.model]()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.0, weight_decay=0.0)
    gen = torch.Generator()
    gen.manual_seed(args.seed)

    step = 0
    epochs = []
    best = None
    bs = args.batch_size
    n = xtr.shape[0]
    for ep in range(1, args.epochs + 1):
        perm = torch.randperm(n, generator=gen)
        model.train()
        total = 0.0
        t0 = time.perf_counter()
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = xtr[idx], ytr[idx]
            for g in opt.param_groups:
                g["lr"] = args.lr / (1.0 + step * args.lr_decay)
            opt.zero_grad(set_to_none=True)
            loss = F.nll_loss(model(xb), yb)
            loss.backward()
            opt.step()
            step += 1
            total += loss.item() * len(idx)
        secs = time.perf_counter() - t0
        va = auroc(predict(model, xva), yva.numpy())
        te = auroc(predict(model, xte), yte.numpy())
        rec = {"epoch": ep, "train_loss": total / n, "valid_auroc": va, "test_auroc": te, "seconds": secs}
        epochs.append(rec)
        print("epoch %3d  loss %.5f  valid %.4f  test %.4f  %.2fs"
              % (ep, rec["train_loss"], va, te, secs), file=sys.stderr)
        if best is None or (va == va and not best["valid_auroc"] >= va):  # nan-safe
            best = rec

    summary = {
        "model": args.model,
        "cell": cell,
        "train_genes": int(n),
        "batch_size": bs,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "epochs": epochs,
        "best_epoch": best["epoch"] if best else None,
        "valid_auroc": best["valid_auroc"] if best else None,
        "test_auroc": best["test_auroc"] if best else None,
        "mean_epoch_seconds": float(np.mean([e["seconds"] for e in epochs])) if epochs else None,
    }
    def clean(v):  # NaN (single-class split) -> null, keeps the JSON strict
        if isinstance(v, float) and v != v:
            return None
        if isinstance(v, dict):
            return {k: clean(w) for k, w in v.items()}
        if isinstance(v, list):
            return [clean(w) for w in v]
        return v

    text = json.dumps(clean(summary), indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
