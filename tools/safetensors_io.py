"""Minimal reader/writer for the safetensors format (no external dependency).

Layout of a file:
  * 8 bytes: N, the header length, unsigned 64-bit little-endian;
  * N bytes: a UTF-8 JSON object
        {"__metadata__": {str: str},                      (optional)
         "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
    padded with spaces (0x20) so that 8 + N is a multiple of 8;
  * the raw little-endian tensor bytes; data_offsets are relative to the start of
    this data section. Tensors are laid out in the order of their sorted names,
    contiguous, with no gaps.

Only the dtypes in _DTYPES are supported (F32 and I64 are what the project uses).
"""

import json
import struct
import sys

import numpy as np

try:
    import torch
except ImportError:  # the format itself does not need torch
    torch = None

# safetensors dtype string <-> numpy little-endian dtype
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def _dtype_name(arr):
    for name, dt in _DTYPES.items():
        if arr.dtype.kind == dt.kind and arr.dtype.itemsize == dt.itemsize:
            return name
    raise TypeError("safetensors_io: unsupported dtype %s" % arr.dtype)


def _to_numpy(value):
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().contiguous().numpy()
    return np.asarray(value)


def save_file(tensors, path, metadata=None):
    """Write dict[str, torch.Tensor | np.ndarray] to `path` in safetensors format."""
    if metadata is not None:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("safetensors_io: metadata must map str to str")
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("safetensors_io: '__metadata__' is not a valid tensor name")
        arr = _to_numpy(tensors[name])
        dname = _dtype_name(arr)
        data = np.ascontiguousarray(arr, dtype=_DTYPES[dname]).tobytes()
        header[name] = {
            "dtype": dname,
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (-(8 + len(hbytes))) % 8
    hbytes += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def load_numpy(path):
    """Read a safetensors file; returns (dict[str, np.ndarray], metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: file too short for a safetensors header" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError("%s: header length %d exceeds file size %d" % (path, n, len(raw)))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dname = info["dtype"]
        if dname not in _DTYPES:
            raise ValueError("%s: tensor %r has unsupported dtype %s" % (path, name, dname))
        dt = _DTYPES[dname]
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(v) for v in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - begin != count * dt.itemsize or end > len(data) or begin < 0:
            raise ValueError("%s: tensor %r has bad data_offsets %s" % (path, name, [begin, end]))
        arr = np.frombuffer(data[begin:end], dtype=dt).reshape(shape).copy()
        out[name] = arr.astype(dt.newbyteorder("="), copy=False)
    return out, metadata


def load_file(path):
    """Read a safetensors file into dict[str, torch.Tensor]."""
    arrays, _ = load_numpy(path)
    if torch is None:
        raise ImportError("safetensors_io.load_file needs torch; use load_numpy")
    return {k: torch.from_numpy(v) for k, v in arrays.items()}


def load_metadata(path):
    """Return the __metadata__ dict of a safetensors file ({} when absent)."""
    return load_numpy(path)[1]


if __name__ == "__main__":
    # usage: python3 tools/safetensors_io.py FILE  -> list tensors
    for p in sys.argv[1:]:
        arrays, meta = load_numpy(p)
        print(p)
        if meta:
            print("  metadata:", json.dumps(meta, sort_keys=True))
        for k in sorted(arrays):
            a = arrays[k]
            print("  %-24s %-4s %s" % (k, _dtype_name(a), list(a.shape)))
