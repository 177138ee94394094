#!/usr/bin/python3
"""Write the PyTorch reference fixtures for AttentiveChrome and its LSTM baselines.

  /usr/bin/python3 tools/make_attention_fixtures.py [--out tests/data/fixtures]

writes attentivechrome.safetensors, lstm.safetensors and lstm_attn.safetensors (the models
of tools/torch_attentivechrome.py, whose parameter names are the C++ models'). Everything
is float32 and deterministic (seed SEED for the parameters, SEED + 1 for the batch; one
thread). Each file holds:

  param.<name>     initial parameters, U(-0.1, 0.1) (torch.manual_seed(SEED), then
                   uniform_ over named_parameters() in order)
  input.x          (3, 5, 100) non-negative integer counts, torch.poisson(rand * 3)
  input.labels     (3,) float32 0/1 = [1, 0, 1]
  output.logit     (3, 1) at the initial parameters
  output.loss      (1,) BCE-with-logits(logit.squeeze(1), labels), mean
  output.alpha     attention over bins: (3, 5, 100) attentivechrome, (3, 100) lstm-attn
  output.beta      (3, 5) attention over marks (attentivechrome only)
  grad.<name>      d loss / d parameter at the initial parameters
  adam.<name>      parameters after 2 Adam steps (lr 1e-3, betas (0.9, 0.999), eps 1e-8,
                   no weight decay) on the same batch with clip_grad_norm_(params, 1.0)
                   before each step, from the initial parameters
  clipnorm.adam    (2,) the pre-clip total gradient norms returned by clip_grad_norm_
metadata: model, batch, torch, generated_by.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file, load_metadata, save_file  # noqa: E402
from torch_attentivechrome import MODELS, N_BINS, N_MARKS, build, loss_fn  # noqa: E402

SEED = 4321
BATCH = 3
ADAM_LR, ADAM_BETAS, ADAM_EPS, CLIP = 1e-3, (0.9, 0.999), 1e-8, 1.0
STEPS = 2
FILES = {"attentivechrome": "attentivechrome", "lstm": "lstm", "lstm-attn": "lstm_attn"}


def make_batch():
    g = torch.Generator().manual_seed(SEED + 1)
    x = torch.poisson(torch.rand(BATCH, N_MARKS, N_BINS, generator=g) * 3, generator=g).float()
    labels = torch.tensor([1, 0, 1], dtype=torch.float32)
    return x, labels


def make(name, x, labels):
    model = build(name, seed=SEED)
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    t = {"param." + k: v for k, v in init.items()}
    t["input.x"] = x.clone()
    t["input.labels"] = labels.clone()

    # forward / backward at the initial parameters
    logit, alpha, beta = model(x)
    loss = loss_fn(logit, labels)
    model.zero_grad()
    loss.backward()
    t["output.logit"] = logit.detach().clone()
    t["output.loss"] = loss.detach().reshape(1).clone()
    if alpha is not None:
        t["output.alpha"] = alpha.detach().clone()
    if beta is not None:
        t["output.beta"] = beta.detach().clone()
    for k, p in model.named_parameters():
        t["grad." + k] = p.grad.detach().clone()

    # Adam with gradient-norm clipping, from the initial parameters
    model = build(name, seed=SEED)
    for k, p in model.named_parameters():
        assert torch.equal(p.detach(), init[k]), k
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=0.0)
    norms = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_fn(model(x)[0], labels).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        opt.step()
    for k, p in model.named_parameters():
        t["adam." + k] = p.detach().clone()
    t["clipnorm.adam"] = torch.tensor(norms, dtype=torch.float32)

    for k, v in t.items():
        assert v.dtype == torch.float32, (k, v.dtype)
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "fixtures"))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # deterministic summation order
    torch.set_default_dtype(torch.float32)

    x, labels = make_batch()
    for name in MODELS:
        tensors = make(name, x, labels)
        meta = {"model": name, "batch": str(BATCH), "torch": torch.__version__,
                "generated_by": "tools/make_attention_fixtures.py"}
        path = os.path.join(args.out, FILES[name] + ".safetensors")
        save_file(tensors, path, metadata=meta)

        back = load_file(path)
        assert set(back) == set(tensors), (set(back) ^ set(tensors))
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
            assert torch.equal(back[k], v), k
        assert load_metadata(path) == meta

        nparams = sum(v.numel() for k, v in tensors.items() if k.startswith("param."))
        print("%s: %d tensors, %d parameters, %d bytes" % (os.path.normpath(path), len(tensors), nparams,
                                                          os.path.getsize(path)))
        print("  loss %.6f  logit %s  clipnorms %s" % (
            tensors["output.loss"].item(),
            np.array2string(tensors["output.logit"][:, 0].numpy(), precision=6),
            np.array2string(tensors["clipnorm.adam"].numpy(), precision=6)))
        for k in sorted(tensors):
            print("  %-38s %s" % (k, list(tensors[k].shape)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
