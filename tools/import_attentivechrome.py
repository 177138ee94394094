#!/usr/bin/env python3
"""Turns an official AttentiveChrome checkpoint into a deepchrome run folder.

usage: python3 tools/import_attentivechrome.py MODEL.pt RUN_DIR [--cell NAME] [--data-root DIR]
                                               [--loss bce|bce_after_sigmoid] [--force]

MODEL.pt is what the authors' code saves (github.com/QData/AttentiveChrome, v2PyTorch/):
the state_dict of its `att_chrome` module -- train.py's `torch.save(model.cpu().state_dict())`,
and the 56 Kipoi models "AttentiveChrome/E003" ... (Zenodo files E003_attchrome_avgAUC_model.pt,
which Kipoi reads with `model.load_state_dict(torch.load(weights))`) -- or a whole pickled
`att_chrome` module (train.py of March 2019 saved `torch.save(model)`). Both torch
containers are read: zip (torch >= 1.6) and the legacy one of the 2019 files, with storages
saved from the GPU. No torch is needed and nothing in the file is executed
(tools/torch_pt_reader.py).

RUN_DIR receives what `deepchrome predict`, `eval` and `explain` load:
  config.json        a config whose model section is `attentivechrome` with the checkpoint's
                     sizes (data.cells = [--cell], data.root = --data-root; train = the official
                     recipe, for reference)
  model.safetensors  the weights under deepchrome's names (F32)
  import.json        where they came from: the file, its SHA-256, container, key mapping
RUN_DIR is written whole or not at all (a temporary folder beside it, renamed into place);
an existing RUN_DIR is refused unless --force.

Key mapping (official -> deepchrome; m = 0..4 in the CSV's mark order, k = layer):
  rnn_hms.{m}.rnn.{weight_ih,weight_hh,bias_ih,bias_hh}_l{k}[_reverse]
                                        -> bin_lstm.{m}.<same name>       same shape
  rnn_hms.{m}.bin_attention.bin_context_vector (2H, 1)
                                        -> bin_attention.{m}.context (2H)  (2H, 1) -> (2H)
  hm_level_rnn_1.rnn.<same names>       -> mark_lstm.<same name>          same shape
  hm_level_rnn_1.bin_attention.bin_context_vector (2H', 1)
                                        -> mark_attention.context (2H')   (2H', 1) -> (2H')
  fdiff1_1.weight (1, 2H'), fdiff1_1.bias (1) -> out.weight, out.bias    same shape
No transposes: both LSTMs are torch's nn.LSTM layout (gates i, f, g, o; both biases kept),
the context vectors are columns whose elements are already in order. Sizes come from the
weights: bin_hidden = H (rnn_hms.0.rnn.weight_hh_l0 is (4H, H)), mark_hidden = H'
(the official code always has H' = H / 2), bidirectional = the `_reverse` tensors are
present, layers = the number of weight_ih_l{k}.

Outputs: the official model's output is sigmoid(fdiff1_1(.)) -- exactly deepchrome's P(high)
for a one-logit model, whichever loss the config names. The loss only matters if the run
is trained further: "bce" (default) is what the published Kipoi weights were trained with
(they were uploaded in March 2019, when models.py returned the logit and train.py applied
BCE-with-logits to it); "bce_after_sigmoid" is train.py of April 2019 - September 2020,
whose models.py returned sigmoid(logit) and so trained with a double sigmoid.

Exit status: 0 done, 2 bad input (not a checkpoint, a forbidden pickled global, missing /
unexpected keys, wrong shapes; the message names them and RUN_DIR is not touched).
"""

import argparse
import collections
import hashlib
import json
import os
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_pt_reader import CheckpointError, load, state_dict  # noqa: E402

N_MARKS = 5
LSTM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

# The official train.py's recipe (v2PyTorch/train.py defaults), recorded in config.json.
OFFICIAL_TRAIN = {"optimizer": "adam", "lr": 1e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                  "clip_grad_norm": 1.0, "batch_size": 10, "epochs": 90, "seed": 1}


class BadCheckpoint(Exception):
    """Bad input: reported as one message, exit status 2."""


# ---------------------------------------------------------------------------- mapping

def lstm_keys(prefix, layers, bidirectional, input_size, hidden):
    """{official key: shape} of one torch nn.LSTM named `prefix`."""
    out = collections.OrderedDict()
    for k in range(layers):
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            in_k = input_size if k == 0 else hidden * (2 if bidirectional else 1)
            out["%s.weight_ih_l%d%s" % (prefix, k, suffix)] = (4 * hidden, in_k)
            out["%s.weight_hh_l%d%s" % (prefix, k, suffix)] = (4 * hidden, hidden)
            out["%s.bias_ih_l%d%s" % (prefix, k, suffix)] = (4 * hidden,)
            out["%s.bias_hh_l%d%s" % (prefix, k, suffix)] = (4 * hidden,)
    return out


def infer_sizes(state, source):
    """The model section the checkpoint's tensors imply (sizes read from the official keys)."""
    needed = ["rnn_hms.0.rnn.weight_hh_l0", "hm_level_rnn_1.rnn.weight_hh_l0"]
    missing = [k for k in needed if k not in state]
    if missing:
        sample = ", ".join(list(state)[:6]) or "no tensors"
        raise BadCheckpoint("%s: not an AttentiveChrome (att_chrome) checkpoint: missing %s (it holds %s%s)"
                           % (source, ", ".join(missing), sample, ", ..." if len(state) > 6 else ""))
    for k in needed:
        if len(state[k].shape) != 2:
            raise BadCheckpoint("%s: %s has shape %s, expected (4H, H)" % (source, k, list(state[k].shape)))
    bin_hidden = state[needed[0]].shape[1]
    mark_hidden = state[needed[1]].shape[1]
    bidirectional = "rnn_hms.0.rnn.weight_ih_l0_reverse" in state
    layers = 0
    while "rnn_hms.0.rnn.weight_ih_l%d" % layers in state:
        layers += 1
    if bin_hidden < 1 or mark_hidden < 1:
        raise BadCheckpoint("%s: hidden size 0 in %s" % (source, ", ".join(needed)))
    return collections.OrderedDict([
        ("name", "attentivechrome"), ("bin_hidden", bin_hidden), ("mark_hidden", mark_hidden),
        ("bidirectional", bidirectional), ("layers", layers), ("init_range", 0.1), ("loss", "bce")])


def mapping(model):
    """[(official key, official shape, deepchrome name, deepchrome shape)] for `model`."""
    H, Hm, L = model["bin_hidden"], model["mark_hidden"], model["layers"]
    D = 2 if model["bidirectional"] else 1
    rows = []
    for m in range(N_MARKS):
        for key, shape in lstm_keys("rnn_hms.%d.rnn" % m, L, model["bidirectional"], 1, H).items():
            rows.append((key, shape, "bin_lstm.%d.%s" % (m, key.split(".rnn.", 1)[1]), shape))
        rows.append(("rnn_hms.%d.bin_attention.bin_context_vector" % m, (D * H, 1),
                     "bin_attention.%d.context" % m, (D * H,)))
    for key, shape in lstm_keys("hm_level_rnn_1.rnn", L, model["bidirectional"], D * H, Hm).items():
        rows.append((key, shape, "mark_lstm." + key.split(".rnn.", 1)[1], shape))
    rows.append(("hm_level_rnn_1.bin_attention.bin_context_vector", (D * Hm, 1), "mark_attention.context", (D * Hm,)))
    rows.append(("fdiff1_1.weight", (1, D * Hm), "out.weight", (1, D * Hm)))
    rows.append(("fdiff1_1.bias", (1,), "out.bias", (1,)))
    return rows


def _short_list(keys, limit=12):
    keys = list(keys)
    return ", ".join(keys[:limit]) + (" ... (%d in all)" % len(keys) if len(keys) > limit else "")


def convert(state, source):
    """(model section, {deepchrome name: (shape, float32 array)}, mapping rows) or BadCheckpoint
    naming every missing / unexpected key and every wrong shape."""
    model = infer_sizes(state, source)
    rows = mapping(model)
    expected = {r[0]: r for r in rows}
    missing = [r[0] for r in rows if r[0] not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = ["%s is %s, expected %s" % (k, list(state[k].shape), list(expected[k][1]))
             for k in state if k in expected and tuple(state[k].shape) != expected[k][1]]
    problems = []
    if missing:
        problems.append("missing keys: " + _short_list(missing))
    if unexpected:
        note = ""
        if any(re.match(r"rnn_hms\.(\d+)\.", k) and int(k.split(".")[1]) >= N_MARKS for k in unexpected):
            note = " (deepchrome's AttentiveChrome reads exactly %d marks)" % N_MARKS
        problems.append("unexpected keys: " + _short_list(unexpected) + note)
    if wrong:
        problems.append("wrong shapes: " + _short_list(wrong, 6))
    if problems:
        raise BadCheckpoint("%s: does not match AttentiveChrome with bin_hidden %d, mark_hidden %d, %s, %d layer(s) "
                           "(sizes read from rnn_hms.0 / hm_level_rnn_1): %s"
                           % (source, model["bin_hidden"], model["mark_hidden"],
                              "bidirectional" if model["bidirectional"] else "unidirectional", model["layers"],
                              "; ".join(problems)))
    tensors = collections.OrderedDict()
    for key, _, name, shape in rows:
        t = state[key]
        if not t.dtype.startswith("float"):
            raise BadCheckpoint("%s: %s holds %s values, expected floating point" % (source, key, t.dtype))
        values = t.data()
        bad = next((i for i, v in enumerate(values) if v != v or v in (float("inf"), float("-inf"))), None)
        if bad is not None:
            raise BadCheckpoint("%s: %s holds a non-finite value (%r at element %d)" % (source, key, values[bad], bad))
        tensors[name] = (shape, values)
    return model, tensors, rows


# ---------------------------------------------------------------------------- outputs

def safetensors_bytes(tensors, metadata):
    """A safetensors file of F32 tensors (names sorted, as the format's writers do)."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        shape, values = tensors[name]
        data = values.tobytes() if sys.byteorder == "little" else _swapped(values)
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((-(8 + len(head))) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def _swapped(values):
    v = type(values)(values.typecode, values)
    v.byteswap()
    return v.tobytes()


def default_cell(path):
    """E003 for the Kipoi file E003_attchrome_avgAUC_model.pt, else the file's stem."""
    stem = os.path.splitext(os.path.basename(path))[0]
    m = re.match(r"(E\d{3})_", stem)
    return m.group(1) if m else stem


def write_run_dir(run_dir, files, force):
    """Writes {name: bytes} as RUN_DIR in one rename: a temporary folder beside it, each
    file fsynced, then renamed into place (an existing RUN_DIR only with force)."""
    run_dir = os.path.abspath(run_dir)
    parent = os.path.dirname(run_dir)
    if os.path.lexists(run_dir) and not force:
        raise BadCheckpoint("%s: already exists (choose another RUN_DIR, or --force to replace it)" % run_dir)
    if not os.path.isdir(parent):
        raise BadCheckpoint("%s: the parent folder does not exist" % parent)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(run_dir) + ".import-", dir=parent)
    old = None
    try:
        for name, data in files.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o755)
        if os.path.lexists(run_dir):  # --force: move the old one aside first
            old = tempfile.mkdtemp(prefix="." + os.path.basename(run_dir) + ".old-", dir=parent)
            os.rename(run_dir, os.path.join(old, "run"))
        os.rename(tmp, run_dir)
        tmp = None
        fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def import_checkpoint(model_path, run_dir, cell=None, data_root="data", loss="bce", force=False):
    """Does the whole import; returns a one-paragraph summary. Raises BadCheckpoint."""
    try:
        obj, info = load(model_path)
        state = state_dict(obj)
    except CheckpointError as e:
        msg = str(e)
        raise BadCheckpoint(msg if msg.startswith(model_path) else "%s: %s" % (model_path, msg))
    except (AttributeError, TypeError, ValueError) as e:  # a pickled module of an odd shape
        raise BadCheckpoint("%s: not an AttentiveChrome checkpoint (%s: %s)" % (model_path, type(e).__name__, e))
    container = "pickled att_chrome module" if not isinstance(obj, dict) else "state_dict"
    model, tensors, rows = convert(state, model_path)
    model["loss"] = loss
    with open(model_path, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    cell = cell or default_cell(model_path)
    config = collections.OrderedDict([
        ("data", {"root": data_root, "cells": [cell], "cache": True, "cache_dir": ""}),
        ("model", model),
        ("train", OFFICIAL_TRAIN),
        ("device", "cpu"),
        ("threads", 0),
        ("output_dir", os.path.dirname(os.path.normpath(run_dir)) or "."),
    ])
    model_json = json.dumps(model, sort_keys=True, separators=(",", ":"))
    weights = safetensors_bytes(tensors, {"format": "pt", "deepchrome.model": model_json,
                                          "deepchrome.imported_from": os.path.basename(model_path),
                                          "deepchrome.imported_sha256": sha256})
    provenance = collections.OrderedDict([
        ("source", os.path.abspath(model_path)), ("sha256", sha256),
        ("torch_container", info["container"]), ("contents", container),
        ("model", model),
        ("mapping", [{"official": r[0], "official_shape": list(r[1]), "deepchrome": r[2], "shape": list(r[3])}
                     for r in rows]),
        ("note", "P(high) = sigmoid(out(.)) equals the official model's sigmoid(fdiff1_1(.)); "
                 "input x (genes, 100 bins, 5 marks) of the official code is deepchrome's (genes, 5, 100) "
                 "transposed, marks in the CSV's column order."),
    ])
    write_run_dir(run_dir, {
        "config.json": (json.dumps(config, indent=2) + "\n").encode(),
        "model.safetensors": weights,
        "import.json": (json.dumps(provenance, indent=2) + "\n").encode(),
    }, force)
    n = sum(len(v) for _, v in tensors.values())
    return ("%s -> %s: %d tensors, %d parameters (%s, torch %s container): attentivechrome bin_hidden %d, "
            "mark_hidden %d, %s, %d layer(s), loss %s; cell %s"
            % (model_path, run_dir, len(tensors), n, container, info["container"], model["bin_hidden"],
               model["mark_hidden"], "bidirectional" if model["bidirectional"] else "unidirectional",
               model["layers"], loss, cell))


def main(argv=None):
    p = argparse.ArgumentParser(prog="import_attentivechrome.py",
                                description="Official AttentiveChrome checkpoint (.pt) -> deepchrome run folder.")
    p.add_argument("model", metavar="MODEL.pt")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--cell", help="cell type recorded as data.cells (default: E### of a Kipoi file name, else the "
                   "stem; Kipoi's download cache names the file by its MD5, so pass --cell there)")
    p.add_argument("--data-root", default="data", help="data.root recorded in config.json (default: data)")
    p.add_argument("--loss", choices=("bce", "bce_after_sigmoid"), default="bce",
                   help="model.loss for further training (predictions do not depend on it)")
    p.add_argument("--force", action="store_true", help="replace an existing RUN_DIR")
    args = p.parse_args(argv)
    try:
        print(import_checkpoint(args.model, args.run_dir, args.cell, args.data_root, args.loss, args.force))
    except BadCheckpoint as e:
        print("import_attentivechrome: error: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("import_attentivechrome: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
