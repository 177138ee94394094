#!/usr/bin/python3
"""Write the PyTorch reference fixtures used by the C++ model tests.

  /usr/bin/python3 tools/make_fixtures.py [--out tests/data/fixtures]

writes deepchrome.safetensors, linear.safetensors and mlp.safetensors. Everything is
float32, deterministic (fixed seeds) and computed in eval mode (dropout off, since
dropout masks cannot match torch's RNG). Each file holds:

  param.<name>     initial parameters (torch default init, torch.manual_seed(SEED))
  input.x          (4, 5, 100) non-negative integer counts, float32
  input.labels     (4,) float32 class index 0/1
  output.logp      (4, 2) log-softmax output at the initial parameters
  output.loss      (1,) mean NLL loss
  grad.<name>      d loss / d parameter at the initial parameters
  sgd.<name>       (tensors of <= MAX_STEP_TENSOR values) parameters after 3 SGD steps on the same batch (lr 0.05, momentum 0.9,
                   weight_decay 0.01, torch7-style decay lr_t = 0.05 / (1 + t * 0.1),
                   t = 0, 1, 2 = steps taken before this one), from the initial parameters
  adam.<name>      parameters after 3 Adam steps (lr 1e-3, betas (0.9, 0.999), eps 1e-8,
                   no weight decay) with clip_grad_norm_(params, 0.5) before each step,
                   from the initial parameters
  clipnorm.adam    (3,) the pre-clip total gradient norms returned by clip_grad_norm_
metadata: model, batch, torch, generated_by.
"""

import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file, load_metadata, save_file  # noqa: E402
from torch_deepchrome import MODELS  # noqa: E402

SEED = 1234
BATCH = 4
SGD_LR, SGD_MOMENTUM, SGD_WD, SGD_DECAY = 0.05, 0.9, 0.01, 0.1
ADAM_LR, ADAM_BETAS, ADAM_EPS, CLIP = 1e-3, (0.9, 0.999), 1e-8, 0.5
STEPS = 3
# sgd./adam. copies are stored only for tensors up to this size, to keep the committed
# fixtures small (deepchrome's fc1.weight, 562,500 values, is left out; the optimizer
# updates are elementwise, so the other tensors test them fully).
MAX_STEP_TENSOR = 200_000


def make_batch():
    g = torch.Generator().manual_seed(SEED + 1)
    x = torch.poisson(torch.rand(BATCH, 5, 100, generator=g) * 3, generator=g).float()
    labels = torch.tensor([0, 1, 1, 0], dtype=torch.float32)
    return x, labels


def loss_fn(model, x, labels):
    logp = model(x)
    return logp, F.nll_loss(logp, labels.long())


def build(name, x, labels):
    torch.manual_seed(SEED)
    model = MODELS[name]()
    model.eval()
    init = copy.deepcopy(model.state_dict())
    t = {}
    for k, v in init.items():
        t["param." + k] = v.clone()
    t["input.x"] = x.clone()
    t["input.labels"] = labels.clone()

    # forward / backward at the initial parameters
    logp, loss = loss_fn(model, x, labels)
    model.zero_grad()
    loss.backward()
    t["output.logp"] = logp.detach().clone()
    t["output.loss"] = loss.detach().reshape(1).clone()
    for k, p in model.named_parameters():
        t["grad." + k] = p.grad.detach().clone()

    # SGD with momentum, weight decay and torch7-style lr decay
    model.load_state_dict(init)
    opt = torch.optim.SGD(model.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM, weight_decay=SGD_WD)
    for step in range(STEPS):
        for grp in opt.param_groups:
            grp["lr"] = SGD_LR / (1.0 + step * SGD_DECAY)
        opt.zero_grad()
        _, loss = loss_fn(model, x, labels)
        loss.backward()
        opt.step()
    for k, p in model.named_parameters():
        if p.numel() <= MAX_STEP_TENSOR:
            t["sgd." + k] = p.detach().clone()

    # Adam with gradient-norm clipping
    model.load_state_dict(init)
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=0.0)
    norms = []
    for _ in range(STEPS):
        opt.zero_grad()
        _, loss = loss_fn(model, x, labels)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        opt.step()
    for k, p in model.named_parameters():
        if p.numel() <= MAX_STEP_TENSOR:
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
    for name in ("deepchrome", "linear", "mlp"):
        tensors = build(name, x, labels)
        meta = {"model": name, "batch": str(BATCH), "torch": torch.__version__,
                "generated_by": "tools/make_fixtures.py"}
        path = os.path.join(args.out, name + ".safetensors")
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
        print("  loss %.6f  logp[0] %s  clipnorms %s" % (
            tensors["output.loss"].item(),
            np.array2string(tensors["output.logp"][0].numpy(), precision=6),
            np.array2string(tensors["clipnorm.adam"].numpy(), precision=6)))
        for k in sorted(tensors):
            print("  %-22s %s" % (k, list(tensors[k].shape)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
