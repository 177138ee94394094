#!/usr/bin/python3
"""Writes AttentiveChrome checkpoints in the official code's layout, with reference outputs,
for the importer's test (tests/cli/test_import_attentivechrome.cpp). Needs torch; the test
does not.

    /usr/bin/python3 tools/make_attentivechrome_checkpoint.py            # into tests/data/fixtures/
    /usr/bin/python3 tools/make_attentivechrome_checkpoint.py --out DIR

The model is the `att_chrome` module of github.com/QData/AttentiveChrome, v2PyTorch/models.py,
re-implemented here from reading it, with its module names so that the state_dict keys are
the official ones:

  rnn_hms[m] (m = 0..4)  recurrent_encoder: rnn = nn.LSTM(1, bin_rnn_size, num_layers,
                         bidirectional) over the bins, time-major (bins, genes, 1); its
                         bin_attention = rec_attention with bin_context_vector (D*H, 1):
                         alpha = softmax over bins of h_t . context (computed per gene with
                         torch.mm as the official batch_product), rep = sum_t alpha_t h_t.
  hm_level_rnn_1         recurrent_encoder over the 5 reps: nn.LSTM(D*H, H/2, ...) and
                         rec_attention with bin_context_vector (H, 1) (= D*H/2 when
                         bidirectional): beta over the marks, final rep (D*H/2).
  fdiff1_1               nn.Linear(D*H/2, 1): the logit. The Kipoi model returns sigmoid(logit).

Official input layout: x (genes, n_bins = 100, n_hms = 5), bins in order, marks in the
CSV's column order (H3K27me3, H3K36me3, H3K4me1, H3K4me3, H3K9me3); raw read counts. The
official bin attention comes out as bin_a (genes, 5 * 100): the marks' alphas concatenated.

Files written (one thread; the zip files and every reference are byte-identical from run to
run on the same torch build; the legacy container names storages by memory address, so those
files' bytes differ between runs while their tensors do not):
  attentivechrome_official.pt            state_dict, bin_rnn_size 32 (the published size),
                                         1 layer, zip container -- as train.py saves it now
                                         (`torch.save(model.cpu().state_dict(), ...)`)
  attentivechrome_official_legacy.pt     state_dict, bin_rnn_size 10, 2 layers, legacy container
                                         (the 2019 files' format); each LSTM's tensors are views
                                         into one shared storage as cuDNN flattens them on the
                                         GPU, location "cuda:0", and one tensor is stored
                                         non-contiguous (transposed strides)
  attentivechrome_official_module.pt     the whole pickled att_chrome module (bin_rnn_size 8,
                                         1 layer, legacy container) -- as train.py saved it in
                                         March 2019 (`torch.save(model, ...)`)
  <name>.reference.safetensors           for each: input.x (B, 100, 5) counts,
                                         output.logit (B, 1), output.prob (B, 1) = sigmoid,
                                         output.alpha (B, 500) = bin_a, output.beta (B, 5);
                                         metadata: sizes, container, torch version
  attentivechrome_bad_shape.pt           (legacy) the state_dict of a tiny model (bin_rnn_size 2)
                                         with fdiff1_1.weight of shape (1, 5), not (1, 2)
  attentivechrome_bad_missing.pt         (legacy) ... without hm_level_rnn_1.bin_attention.bin_context_vector
  attentivechrome_bad_global.pt          (zip) a pickle that names posix.system (an importer that
                                         ran it would create a file named PWNED_BY_PICKLE)

Parameters are drawn U(-r, r), r = 0.5 at the published size and 1.0 for the small ones
(torch.manual_seed(seed), then uniform_ over parameters() in order, as the official
train.py does with r = 0.1), the context vectors then scaled by 4, and fdiff1_1 set from the batch (spread_output): so that the
probabilities and the attention are far from uniform and differ between genes, and a
mis-mapped tensor shows. The batch: 6 genes of raw counts, a background plus one bump per
mark (batch()).
"""

import argparse
import collections
import os
import sys
import warnings

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402

N_HMS = 5
N_BINS = 100
BATCH = 6
CONTEXT_SCALE = 4.0


class Args:
    def __init__(self, bin_rnn_size, num_layers, bidirectional=True, dropout=0.5):
        self.n_hms, self.n_bins = N_HMS, N_BINS
        self.bin_rnn_size, self.num_layers = bin_rnn_size, num_layers
        self.bidirectional, self.dropout = bidirectional, dropout


class rec_attention(nn.Module):  # noqa: N801 -- the official class name
    def __init__(self, hm, args):
        super().__init__()
        directions = 2 if args.bidirectional else 1
        size = args.bin_rnn_size if hm else args.bin_rnn_size * directions
        self.bin_context_vector = nn.Parameter(torch.empty(size, 1))
        self.softmax = nn.Softmax(dim=1)

    def forward(self, h):  # h (genes, steps, features)
        scores = torch.stack([torch.mm(h[i], self.bin_context_vector) for i in range(h.size(0))]).squeeze(2)
        alpha = self.softmax(scores)                         # (genes, steps)
        rep = torch.bmm(alpha.unsqueeze(1), h)               # (genes, 1, features)
        return rep, alpha


class recurrent_encoder(nn.Module):  # noqa: N801
    def __init__(self, n_steps, input_size, hm, args):
        super().__init__()
        hidden = args.bin_rnn_size // 2 if hm else args.bin_rnn_size
        self.rnn = nn.LSTM(input_size, hidden, num_layers=args.num_layers, dropout=args.dropout,
                           bidirectional=args.bidirectional)
        self.bin_attention = rec_attention(hm, args)
        self.out_size = hidden * (2 if args.bidirectional else 1)

    def forward(self, seq):  # seq (steps, genes, input): time-major as nn.LSTM's default
        h, _ = self.rnn(seq)
        return self.bin_attention(h.permute(1, 0, 2))


class att_chrome(nn.Module):  # noqa: N801
    def __init__(self, args):
        super().__init__()
        self.rnn_hms = nn.ModuleList([recurrent_encoder(args.n_bins, 1, False, args) for _ in range(args.n_hms)])
        size = self.rnn_hms[0].out_size
        self.hm_level_rnn_1 = recurrent_encoder(args.n_hms, size, True, args)
        self.fdiff1_1 = nn.Linear(self.hm_level_rnn_1.out_size, 1)

    def forward(self, x):  # x (genes, bins, marks)
        reps, alphas = [], []
        for m, encoder in enumerate(self.rnn_hms):
            mark = x[:, :, m].contiguous().t().unsqueeze(2)  # (bins, genes, 1)
            rep, alpha = encoder(mark)
            reps.append(rep)
            alphas.append(alpha)
        level1 = torch.cat(reps, 1).permute(1, 0, 2)          # (marks, genes, features)
        final, beta = self.hm_level_rnn_1(level1)
        logit = self.fdiff1_1(final.squeeze(1))
        return logit, torch.cat(alphas, 1), beta


def build(args, seed, init):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LSTM dropout with one layer
        model = att_chrome(args)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-init, init)
        for encoder in list(model.rnn_hms) + [model.hm_level_rnn_1]:
            encoder.bin_attention.bin_context_vector.mul_(CONTEXT_SCALE)
    return model.eval()


def batch(seed):
    """Raw read counts (B, 100, 5): per gene and mark a background rate plus one bump of
    random height, centre and width, so that genes (and their attention) differ."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(BATCH, 1, N_HMS, generator=g) * 3
    peak = torch.rand(BATCH, 1, N_HMS, generator=g) * 10
    centre = torch.rand(BATCH, 1, N_HMS, generator=g) * N_BINS
    width = 3 + torch.rand(BATCH, 1, N_HMS, generator=g) * 20
    bins = torch.arange(float(N_BINS)).view(1, N_BINS, 1)
    return torch.poisson(base + peak * torch.exp(-((bins - centre) / width) ** 2), generator=g)


def spread_output(model, x):
    """Sets fdiff1_1 to the first principal direction of the batch's final representations,
    scaled to logits of mean 0 and standard deviation 2: random weights alone give nearly
    the same probability to every gene."""
    with torch.no_grad():
        reps = [encoder(x[:, :, m].contiguous().t().unsqueeze(2))[0] for m, encoder in enumerate(model.rnn_hms)]
        final = model.hm_level_rnn_1(torch.cat(reps, 1).permute(1, 0, 2))[0].squeeze(1)
        centred = final - final.mean(0)
        direction = torch.linalg.svd(centred, full_matrices=False)[2][0]
        w = direction * (2.0 / (centred @ direction).std())
        model.fdiff1_1.weight.copy_(w.unsqueeze(0))
        model.fdiff1_1.bias.copy_(-(final.mean(0) @ w).view(1))


def reference(model, x, args, container):
    with torch.no_grad():
        logit, alpha, beta = model(x)
    return {"input.x": x, "output.logit": logit, "output.prob": torch.sigmoid(logit),
            "output.alpha": alpha, "output.beta": beta}, {
        "bin_rnn_size": str(args.bin_rnn_size), "num_layers": str(args.num_layers),
        "bidirectional": str(args.bidirectional).lower(), "container": container,
        "layout": "x (genes, bins, marks); alpha (genes, marks * bins); beta (genes, marks)",
        "torch": torch.__version__, "generated_by": "tools/make_attentivechrome_checkpoint.py"}


def flattened_like_cudnn(state):
    """The state_dict with each LSTM's tensors as views into one storage (what cuDNN's
    flattened weights look like when a GPU model is saved), one of them non-contiguous."""
    out = collections.OrderedDict()
    groups = collections.OrderedDict()
    for k, v in state.items():
        prefix = k.rsplit(".", 1)[0] if ".rnn." in k else k
        groups.setdefault(prefix, []).append((k, v))
    for items in groups.values():
        flat = torch.cat([v.reshape(-1) for _, v in items]).clone()
        offset = 0
        for k, v in items:
            out[k] = flat[offset:offset + v.numel()].view(v.shape)
            offset += v.numel()
    # hm_level_rnn_1.rnn.weight_hh_l0: same values, transposed strides (column-major).
    k = "hm_level_rnn_1.rnn.weight_hh_l0"
    out[k] = out[k].t().contiguous().t()
    assert not out[k].is_contiguous()
    return out


class Forbidden:
    """Pickles as a call of posix.system: the importer must refuse it, never run it."""

    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "fixtures"))
    out = p.parse_args().out
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    # Whole-module pickles name the classes' module; the official one is `models`.
    for cls in (rec_attention, recurrent_encoder, att_chrome):
        cls.__module__ = "models"
    sys.modules["models"] = sys.modules[__name__]

    def save_case(name, args, seed, init, saver, container):
        model, x = build(args, seed, init), batch(seed + 1)
        spread_output(model, x)
        saver(model, os.path.join(out, name + ".pt"))
        tensors, meta = reference(model, x, args, container)
        save_file(tensors, os.path.join(out, name + ".reference.safetensors"), meta)
        return model

    save_case("attentivechrome_official", Args(32, 1), 2017, 0.5,
              lambda m, path: torch.save(m.cpu().state_dict(), path), "zip")
    save_case("attentivechrome_official_legacy", Args(10, 2), 2018, 1.0,
              lambda m, path: torch.save(flattened_like_cudnn(m.state_dict()), path,
                                         _use_new_zipfile_serialization=False), "legacy")
    save_case("attentivechrome_official_module", Args(8, 1), 2019, 1.0,
                       lambda m, path: torch.save(m, path, _use_new_zipfile_serialization=False), "legacy")

    state = build(Args(2, 1), 2020, 1.0).state_dict()  # the bad files: a tiny model
    bad = collections.OrderedDict(state)
    bad["fdiff1_1.weight"] = torch.zeros(1, 5)
    torch.save(bad, os.path.join(out, "attentivechrome_bad_shape.pt"), _use_new_zipfile_serialization=False)
    bad = collections.OrderedDict((k, v) for k, v in state.items() if k != "hm_level_rnn_1.bin_attention.bin_context_vector")
    torch.save(bad, os.path.join(out, "attentivechrome_bad_missing.pt"), _use_new_zipfile_serialization=False)
    bad = collections.OrderedDict(state)
    bad["fdiff1_1.bias"] = Forbidden()
    torch.save(bad, os.path.join(out, "attentivechrome_bad_global.pt"))
    for f in sorted(os.listdir(out)):
        if f.startswith("attentivechrome_official") or f.startswith("attentivechrome_bad"):
            print("%-52s %8d bytes" % (f, os.path.getsize(os.path.join(out, f))))


if __name__ == "__main__":
    main()
