#!/usr/bin/python3
"""Write the PyTorch reference fixtures for AttentiveChrome and its LSTM baselines.

  /usr/bin/python3 tools/make_attention_fixtures.py [--out tests/data/fixtures]

writes attentivechrome.safetensors, lstm.safetensors and lstm_attn.safetensors (float32,
deterministic). Each holds:

  param.<name>     initial parameters, U(-0.1, 0.1) (torch.manual_seed(SEED))
  input.x          (3, 5, 100) non-negative integer counts
  input.labels     (3,) float 0/1
  output.logit     (3, 1)
  output.loss      (1,) BCE-with-logits, mean
  output.alpha     attention over bins: (3, 5, 100) attentivechrome, (3, 1, 100) lstm-attn
  output.beta      (3, 5) attention over marks (attentivechrome)
  grad.<name>      d loss / d parameter at the initial parameters
  adam.<name>      parameters after 2 Adam steps (lr 1e-3) with clip_grad_norm_(params, 1.0)
  clipnorm.adam    (2,) the pre-clip gradient norms
The C++ models use the same parameter names (torch.nn.LSTM's, per mark for the bin level).
"""

import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file, save_file  # noqa: E402

SEED = 4321
BATCH = 3
MARKS, BINS = 5, 100


def attention(h, context):
    """h (B, T, F), context (F) -> pooled (B, F), alpha (B, T)."""
    alpha = torch.softmax(h @ context, dim=1)
    return (alpha.unsqueeze(-1) * h).sum(dim=1), alpha


class AttentiveChrome(nn.Module):
    def __init__(self, bin_hidden=32, mark_hidden=16):
        super().__init__()
        self.bin_lstm = nn.ModuleList([nn.LSTM(1, bin_hidden, batch_first=True, bidirectional=True) for _ in range(MARKS)])
        self.bin_attention = nn.ModuleList([nn.ParameterDict({"context": nn.Parameter(torch.empty(2 * bin_hidden))})
                                            for _ in range(MARKS)])
        self.mark_lstm = nn.LSTM(2 * bin_hidden, mark_hidden, batch_first=True, bidirectional=True)
        self.mark_attention = nn.ParameterDict({"context": nn.Parameter(torch.empty(2 * mark_hidden))})
        self.out = nn.Linear(2 * mark_hidden, 1)

    def forward(self, x):
        reps, alphas = [], []
        for m in range(MARKS):
            h, _ = self.bin_lstm[m](x[:, m, :].unsqueeze(-1))
            rep, alpha = attention(h, self.bin_attention[m]["context"])
            reps.append(rep)
            alphas.append(alpha)
        s, _ = self.mark_lstm(torch.stack(reps, dim=1))
        final, beta = attention(s, self.mark_attention["context"])
        return self.out(final), torch.stack(alphas, dim=1), beta


class LstmBaseline(nn.Module):
    def __init__(self, attend, hidden=32):
        super().__init__()
        self.attend = attend
        self.hidden = hidden
        self.lstm = nn.LSTM(MARKS, hidden, batch_first=True, bidirectional=True)
        if attend:
            self.attention = nn.ParameterDict({"context": nn.Parameter(torch.empty(2 * hidden))})
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, x):
        h, _ = self.lstm(x.transpose(1, 2))
        if self.attend:
            rep, alpha = attention(h, self.attention["context"])
            return self.out(rep), alpha.unsqueeze(1), None
        rep = torch.cat([h[:, -1, :self.hidden], h[:, 0, self.hidden:]], dim=1)
        return self.out(rep), None, None


MODELS = {"attentivechrome": AttentiveChrome, "lstm": lambda: LstmBaseline(False),
          "lstm-attn": lambda: LstmBaseline(True)}
FILES = {"attentivechrome": "attentivechrome", "lstm": "lstm", "lstm-attn": "lstm_attn"}


def build(name):
    torch.manual_seed(SEED)
    model = MODELS[name]()
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.1, 0.1)
    return model


def make(name):
    g = torch.Generator().manual_seed(SEED + 1)
    x = torch.poisson(torch.rand(BATCH, MARKS, BINS, generator=g) * 3, generator=g).float()
    labels = torch.tensor([1, 0, 1], dtype=torch.float32)
    model = build(name)
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    t = {"param." + k: v for k, v in init.items()}
    t["input.x"], t["input.labels"] = x, labels
    logit, alpha, beta = model(x)
    loss = F.binary_cross_entropy_with_logits(logit.squeeze(1), labels)
    loss.backward()
    t["output.logit"] = logit.detach().clone()
    t["output.loss"] = loss.detach().reshape(1).clone()
    if alpha is not None:
        t["output.alpha"] = alpha.detach().clone()
    if beta is not None:
        t["output.beta"] = beta.detach().clone()
    for k, p in model.named_parameters():
        t["grad." + k] = p.grad.detach().clone()

    model = build(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    norms = []
    for _ in range(2):
        opt.zero_grad()
        logit, _, _ = model(x)
        F.binary_cross_entropy_with_logits(logit.squeeze(1), labels).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)))
        opt.step()
    for k, p in model.named_parameters():
        t["adam." + k] = p.detach().clone()
    t["clipnorm.adam"] = torch.tensor(norms, dtype=torch.float32)
    return t, float(loss)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    os.makedirs(args.out, exist_ok=True)
    for name in MODELS:
        tensors, loss = make(name)
        path = os.path.join(args.out, FILES[name] + ".safetensors")
        save_file(tensors, path, metadata={"model": name, "batch": str(BATCH), "torch": torch.__version__,
                                           "generated_by": "tools/make_attention_fixtures.py"})
        back = load_file(path)
        assert set(back) == set(tensors) and all(torch.equal(back[k], tensors[k]) for k in tensors)
        print(f"{path}: {len(tensors)} tensors, loss {loss:.6f}")


if __name__ == "__main__":
    main()
