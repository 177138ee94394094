#!/usr/bin/python3
"""PyTorch reference models and trainer for AttentiveChrome and its LSTM baselines.

Used (a) by tools/make_attention_fixtures.py, which imports MODELS / build() from here, and
(b) as a standalone trainer to compare our C++ trainer with PyTorch on the same data and
machine (speed: seconds per training epoch; accuracy: validation / test AUROC).

Usage:
  /usr/bin/python3 tools/torch_attentivechrome.py --cell-dir data/sim/S01 --model attentivechrome \
      --epochs 3 --batch-size 16 --lr 1e-4 --clip 1.0 --seed 1 --threads 2 \
      [--model attentivechrome|lstm|lstm-attn] [--max-train-genes N] [--json out.json]
  /usr/bin/python3 tools/torch_attentivechrome.py --split-dir tests/data/toy --epochs 1   # smoke test

Models (parameter names are the C++ models'; every parameter initialised U(-0.1, 0.1)).
Input x: float32 (B, 5, 100) = (batch, mark, bin), marks in CSV order H3K27me3, H3K36me3,
H3K4me1, H3K4me3, H3K9me3. forward(x) returns (logit (B, 1), alpha, beta):

  attentivechrome  per mark m: bin_lstm.{m} = LSTM(1 -> 32, bidirectional) over the 100 bins
                   of x[:, m, :] -> h (B, 100, 64); bin attention with bin_attention.{m}.context
                   (64): alpha = softmax_t(h_t . context), rep_m = sum_t alpha_t h_t (64).
                   Reps stacked (B, 5, 64) -> mark_lstm = LSTM(64 -> 16, bidirectional)
                   -> s (B, 5, 32); mark attention with mark_attention.context (32):
                   beta = softmax_m(s_m . context), final = sum_m beta_m s_m -> out Linear(32, 1).
                   alpha (B, 5, 100), beta (B, 5).
  lstm             lstm = LSTM(5 -> 32, bidirectional) over the bins (x.transpose(1, 2),
                   (B, 100, 5)); concat(forward h at t=99, reverse h at t=0) -> out Linear(64, 1).
                   alpha = beta = None.
  lstm-attn        same lstm; attention.context (64) over the 100 steps -> pooled (64)
                   -> out Linear(64, 1). alpha (B, 100), beta None.

Loss: BCE-with-logits(logit.squeeze(1), label) mean (--double-sigmoid: the official code's
BCE-with-logits(sigmoid(logit), label), a compatibility option only).

Training (the AttentiveChrome paper's recipe): Adam (default betas / eps, no weight decay),
clip_grad_norm_(params, --clip) before each step, batches reshuffled every epoch
(torch.randperm with a generator seeded by --seed). After every epoch valid and test AUROC
(P(high) = sigmoid(logit), ties as sklearn's roc_auc_score) and AUPR (average precision,
as sklearn's average_precision_score); the best-valid-AUROC epoch is reported. `seconds`
times only the training loop of an epoch.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_deepchrome import auroc, read_split  # noqa: E402

N_MARKS = 5
N_BINS = 100
INIT_RANGE = 0.1


# ----------------------------------------------------------------------------- models

class Attention(nn.Module):
    """Dot-product attention with a learned context vector: h (B, T, F) -> pooled (B, F), alpha (B, T)."""

    def __init__(self, features):
        super().__init__()
        self.context = nn.Parameter(torch.empty(features))

    def forward(self, h):
        alpha = torch.softmax(h @ self.context, dim=1)        # (B, T)
        return (alpha.unsqueeze(-1) * h).sum(dim=1), alpha


class AttentiveChrome(nn.Module):
    def __init__(self, bin_hidden=32, mark_hidden=16):
        super().__init__()
        self.bin_lstm = nn.ModuleList([nn.LSTM(1, bin_hidden, batch_first=True, bidirectional=True)
                                       for _ in range(N_MARKS)])
        self.bin_attention = nn.ModuleList([Attention(2 * bin_hidden) for _ in range(N_MARKS)])
        self.mark_lstm = nn.LSTM(2 * bin_hidden, mark_hidden, batch_first=True, bidirectional=True)
        self.mark_attention = Attention(2 * mark_hidden)
        self.out = nn.Linear(2 * mark_hidden, 1)

    def forward(self, x):  # x (B, 5, 100)
        reps, alphas = [], []
        for m in range(N_MARKS):
            h, _ = self.bin_lstm[m](x[:, m, :].unsqueeze(-1))  # (B, 100, 64)
            rep, alpha = self.bin_attention[m](h)               # (B, 64), (B, 100)
            reps.append(rep)
            alphas.append(alpha)
        s, _ = self.mark_lstm(torch.stack(reps, dim=1))         # (B, 5, 32)
        final, beta = self.mark_attention(s)                    # (B, 32), (B, 5)
        return self.out(final), torch.stack(alphas, dim=1), beta


class LstmBaseline(nn.Module):
    """`lstm` (attend=False): last states; `lstm-attn` (attend=True): attention over the bins."""

    def __init__(self, attend, hidden=32):
        super().__init__()
        self.attend = attend
        self.hidden = hidden
        self.lstm = nn.LSTM(N_MARKS, hidden, batch_first=True, bidirectional=True)
        if attend:
            self.attention = Attention(2 * hidden)
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, x):  # x (B, 5, 100)
        h, _ = self.lstm(x.transpose(1, 2))                     # (B, 100, 64)
        if self.attend:
            rep, alpha = self.attention(h)                      # (B, 64), (B, 100)
            return self.out(rep), alpha, None
        rep = torch.cat([h[:, -1, :self.hidden], h[:, 0, self.hidden:]], dim=1)
        return self.out(rep), None, None


MODELS = {
    "attentivechrome": AttentiveChrome,
    "lstm": lambda: LstmBaseline(False),
    "lstm-attn": lambda: LstmBaseline(True),
}


def build(name, seed=None):
    """The model `name` with every parameter drawn from U(-0.1, 0.1) (after torch.manual_seed(seed)
    when seed is given), in named_parameters() order."""
    if seed is not None:
        torch.manual_seed(seed)
    model = MODELS[name]()
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-INIT_RANGE, INIT_RANGE)
    return model


def loss_fn(logit, labels, double_sigmoid=False):
    """Mean BCE on the logit (B, 1) against float 0/1 labels (B,)."""
    z = logit.squeeze(1)
    if double_sigmoid:  # the official code's sigmoid followed by BCE-with-logits
        z = torch.sigmoid(z)
    return F.binary_cross_entropy_with_logits(z, labels)


# ----------------------------------------------------------------------------- metrics

def average_precision(scores, labels):
    """Area under the precision-recall curve as sklearn.metrics.average_precision_score:
    sum over distinct thresholds (descending) of (R_n - R_{n-1}) * P_n."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s) - 1]  # last index of each tie group
    tp = np.cumsum(y_sorted)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


@torch.no_grad()
def predict(model, x, batch=256):
    """P(high) = sigmoid(logit) for every gene, eval mode."""
    model.eval()
    out = []
    for i in range(0, x.shape[0], batch):
        out.append(torch.sigmoid(model(x[i:i + batch])[0][:, 0]))
    return torch.cat(out).numpy()


# ----------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--cell-dir", help="cell-type directory holding classification/{train,valid,test}.csv")
    src.add_argument("--split-dir", help="directory holding {train,valid,test}.csv directly")
    ap.add_argument("--model", choices=sorted(MODELS), default="attentivechrome")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping (<= 0: off)")
    ap.add_argument("--double-sigmoid", action="store_true",
                    help="compatibility: BCE-with-logits on sigmoid(logit), as the official code")
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
    torch.set_default_dtype(torch.float32)

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
    ytr_f = ytr.float()
    load_s = time.perf_counter() - t0
    print("loaded %s: train %d valid %d test %d genes in %.2fs (torch %s, %d threads)"
          % (d, len(ytr), len(yva), len(yte), load_s, torch.__version__, torch.get_num_threads()),
          file=sys.stderr)

    model = build(args.model, seed=args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator()
    gen.manual_seed(args.seed)

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
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xtr[idx])[0], ytr_f[idx], args.double_sigmoid)
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            total += loss.item() * len(idx)
        secs = time.perf_counter() - t0
        pva, pte = predict(model, xva), predict(model, xte)
        va, te = auroc(pva, yva.numpy()), auroc(pte, yte.numpy())
        rec = {"epoch": ep, "train_loss": total / n, "valid_auroc": va, "test_auroc": te,
               "valid_aupr": average_precision(pva, yva.numpy()), "test_aupr": average_precision(pte, yte.numpy()),
               "seconds": secs}
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
        "lr": args.lr,
        "clip": args.clip,
        "double_sigmoid": bool(args.double_sigmoid),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "epochs": epochs,
        "best_epoch": best["epoch"] if best else None,
        "valid_auroc": best["valid_auroc"] if best else None,
        "test_auroc": best["test_auroc"] if best else None,
        "test_aupr": best["test_aupr"] if best else None,
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
