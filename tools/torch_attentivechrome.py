#!/usr/bin/python3
"""PyTorch reference trainer for AttentiveChrome and its LSTM baselines (speed and accuracy
comparison with `deepchrome train`).

  /usr/bin/python3 tools/torch_attentivechrome.py --cell-dir data/sim/S01 --model attentivechrome \
      --epochs 3 --batch-size 16 --lr 1e-4 --clip 1.0 --seed 1 --threads 2 [--max-train-genes N] [--json out.json]

The models are tools/make_attention_fixtures.py's (the C++ models' parameter names); the
recipe is the paper's: Adam, BCE on the logit, gradient-norm clipping, shuffled batches,
best epoch by validation AUROC (P(high) = sigmoid(logit)), its test AUROC reported.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_attention_fixtures import MODELS, build  # noqa: E402
from torch_deepchrome import auroc, read_split  # noqa: E402


@torch.no_grad()
def predict(model, x, batch=256):
    out = []
    for i in range(0, x.shape[0], batch):
        out.append(torch.sigmoid(model(x[i:i + batch])[0][:, 0]))
    return torch.cat(out).numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--cell-dir")
    src.add_argument("--split-dir")
    ap.add_argument("--model", choices=sorted(MODELS), default="attentivechrome")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-train-genes", type=int, default=0)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    d = os.path.join(a.cell_dir, "classification") if a.cell_dir else a.split_dir
    _, xtr, ytr = read_split(os.path.join(d, "train.csv"))
    _, xva, yva = read_split(os.path.join(d, "valid.csv"))
    _, xte, yte = read_split(os.path.join(d, "test.csv"))
    if a.max_train_genes:
        xtr, ytr = xtr[:a.max_train_genes], ytr[:a.max_train_genes]
    torch.manual_seed(a.seed)
    model = build(a.model)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    epochs, best = [], None
    for epoch in range(1, a.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(xtr.shape[0], generator=gen)
        total = 0.0
        for i in range(0, len(perm), a.batch_size):
            idx = perm[i:i + a.batch_size]
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(model(xtr[idx])[0][:, 0], ytr[idx].float())
            loss.backward()
            if a.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            total += float(loss) * len(idx)
        secs = time.perf_counter() - t0
        model.eval()
        va, te = auroc(predict(model, xva), yva.numpy()), auroc(predict(model, xte), yte.numpy())
        rec = {"epoch": epoch, "train_loss": total / xtr.shape[0], "valid_auroc": va, "test_auroc": te, "seconds": round(secs, 4)}
        epochs.append(rec)
        print("epoch %3d  loss %.5f  valid %.4f  test %.4f  %.2fs" % (epoch, rec["train_loss"], va, te, secs), file=sys.stderr)
        if best is None or va > best["valid_auroc"]:
            best = rec
    out = {"model": a.model, "cell": os.path.basename(os.path.normpath(a.cell_dir or a.split_dir)), "train_genes": int(xtr.shape[0]),
           "batch_size": a.batch_size, "threads": a.threads, "torch": torch.__version__, "epochs": epochs,
           "best_epoch": best["epoch"], "valid_auroc": best["valid_auroc"], "test_auroc": best["test_auroc"],
           "mean_epoch_seconds": float(np.mean([e["seconds"] for e in epochs]))}
    text = json.dumps(out, indent=1)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
