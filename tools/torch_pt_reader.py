"""Reads PyTorch checkpoint files (.pt) without torch, and without running pickled code.

A torch checkpoint is a pickle whose tensors point into separately stored raw buffers
("storages"). Two containers exist:

  * zip (torch >= 1.6 default): a zip archive <root>/data.pkl + <root>/data/<key> (one
    raw little-endian buffer per storage; <root>/byteorder says "big" on big-endian
    writers) + <root>/version.
  * legacy (torch < 1.6, and `_use_new_zipfile_serialization=False`): five pickles in a
    row -- the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a sys_info
    dict (little_endian, type sizes), the object itself, then the list of storage keys --
    followed by, for each key in that list, an int64 element count and the raw elements.
    The official AttentiveChrome files of 2019 are in this container; files saved from a
    GPU name the location "cuda:0" and often hold the cuDNN-flattened LSTM weights as views
    (offset, stride) into one shared storage per LSTM.

In the object pickle a tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, backward_hooks)` with the storage a persistent id
('storage', <torch.FloatStorage>, key, location, numel[, view_metadata]).

The unpickler here is restricted: every global the pickle names is looked up in a fixed
table (tensor rebuilders, storage types, OrderedDict, set, and -- for whole pickled
modules -- the torch.nn classes and the official AttentiveChrome classes, which become
inert records of their attributes). Anything else is refused with CheckpointError before
it can be called. Nothing from the file is ever executed.

    obj, info = load("model.pt")   # obj: the unpickled object, tensors as Tensor
    state = state_dict(obj)        # {name: Tensor} from a state_dict or a pickled module

Standard library only (no torch, no numpy).
"""

import array
import collections
import io
import pickle
import struct
import sys
import zipfile

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class CheckpointError(Exception):
    """The file is not a checkpoint this reader accepts; the message says why."""


# ---------------------------------------------------------------------------- storages

class StorageType:
    """What a pickled `torch.FloatStorage` (etc.) global turns into: the element type."""

    def __init__(self, name, typecode, itemsize):
        self.name, self.typecode, self.itemsize = name, typecode, itemsize

    def __repr__(self):
        return "StorageType(%s)" % self.name

    def __setstate__(self, state):
        raise CheckpointError("a pickle that sets the state of a storage type")


# torch storage class name -> (array typecode or 'e' for half, item size, dtype name)
_STORAGE_TYPES = {
    "FloatStorage": ("f", 4, "float32"),
    "DoubleStorage": ("d", 8, "float64"),
    "HalfStorage": ("e", 2, "float16"),
    "LongStorage": ("q", 8, "int64"),
    "IntStorage": ("i", 4, "int32"),
    "ShortStorage": ("h", 2, "int16"),
    "CharStorage": ("b", 1, "int8"),
    "ByteStorage": ("B", 1, "uint8"),
    "BoolStorage": ("B", 1, "bool"),
}


def _storage_type(name):
    typecode, itemsize, dtype = _STORAGE_TYPES[name]
    return StorageType(dtype, typecode, itemsize)


class Storage:
    """One raw buffer of the file, decoded on demand. `view_of` (legacy files before
    torch 0.4) makes it a window of `numel` elements at `view_offset` into another one."""

    def __init__(self, key, stype, numel, location):
        self.key, self.stype, self.numel, self.location = key, stype, numel, location
        self.raw = None            # bytes, set by the container reader
        self.big_endian = False
        self.view_of, self.view_offset = None, 0
        self._values = None

    def __setstate__(self, state):
        raise CheckpointError("a pickle that sets the state of a storage")

    def values(self):
        if self.view_of is not None:
            base = self.view_of.values()
            if self.view_offset + self.numel > len(base):
                raise CheckpointError("storage view %s reaches past the end of storage %s" % (self.key, self.view_of.key))
            return base[self.view_offset:self.view_offset + self.numel]
        if self._values is None:
            if self.raw is None:
                raise CheckpointError("storage %s has no data in the file" % self.key)
            size = self.stype.itemsize
            if len(self.raw) % size:
                raise CheckpointError("storage %s: %d bytes is not a whole number of %s elements"
                                      % (self.key, len(self.raw), self.stype.name))
            n = len(self.raw) // size
            if self.stype.typecode == "e":
                vals = array.array("f", struct.unpack(("%s%de" % (">" if self.big_endian else "<", n)), self.raw))
            else:
                vals = array.array(self.stype.typecode)
                vals.frombytes(self.raw)
                if self.big_endian != (sys.byteorder == "big"):
                    vals.byteswap()
            self._values = vals
        return self._values


class Tensor:
    """A tensor as plain data: dtype name, shape, and its elements in row-major order
    (an array.array, float32 for float storages of any width)."""

    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset = storage, int(offset)
        self.shape, self.stride = tuple(int(s) for s in shape), tuple(int(s) for s in stride)
        if len(self.shape) != len(self.stride):
            raise CheckpointError("tensor with size %s but stride %s" % (self.shape, self.stride))
        self._data = None

    def __setstate__(self, state):
        raise CheckpointError("a pickle that sets the state of a tensor")

    @property
    def dtype(self):
        return self.storage.stype.name

    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    def data(self):
        """The elements, row-major, as an array.array ('f' for float16/32/64 storages)."""
        if self._data is not None:
            return self._data
        base = self.storage.values()
        n = self.numel()
        if n and (self.offset < 0 or min(self.stride, default=0) < 0):
            raise CheckpointError("tensor with a negative offset or stride")
        last = self.offset + sum((s - 1) * st for s, st in zip(self.shape, self.stride)) if n else -1
        if n and last >= len(base):
            raise CheckpointError("a tensor of shape %s reaches element %d of storage %s, which holds %d "
                                  "(truncated or corrupt file)" % (list(self.shape), last, self.storage.key, len(base)))
        contiguous, expect = True, 1
        for s, st in zip(reversed(self.shape), reversed(self.stride)):
            if s != 1 and st != expect:
                contiguous = False
            expect *= s
        if contiguous:
            out = base[self.offset:self.offset + n]
        else:  # gather by strides
            out = array.array(base.typecode, bytes(n * base.itemsize))
            index = [0] * len(self.shape)
            for i in range(n):
                out[i] = base[self.offset + sum(k * st for k, st in zip(index, self.stride))]
                for d in range(len(index) - 1, -1, -1):
                    index[d] += 1
                    if index[d] < self.shape[d]:
                        break
                    index[d] = 0
        if out.typecode == "d":
            out = array.array("f", out)  # the project computes in float32
        self._data = out
        return out


def _rebuild_tensor(storage, storage_offset, size, stride, *rest):
    """torch._utils._rebuild_tensor(_v2): rest = (requires_grad, backward_hooks[, metadata])."""
    if not isinstance(storage, Storage):
        raise CheckpointError("a tensor is rebuilt from %r, not from a storage" % type(storage).__name__)
    return Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *rest):
    """torch._utils._rebuild_parameter(data, requires_grad, backward_hooks[, state])."""
    return data


# ---------------------------------------------------------------------------- modules

class PickledModule:
    """An inert stand-in for a pickled nn.Module: it only keeps the attributes the pickle
    sets (_parameters, _buffers, _modules, ...). `kind` is the class it replaces."""

    kind = "Module"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = dict(state[0] or {}, **(state[1] or {}))
        if not isinstance(state, dict):
            raise CheckpointError("pickled %s has a state of type %s" % (self.kind, type(state).__name__))
        self.__dict__.update(state)


def _module_class(kind):
    return type("Pickled_" + kind, (PickledModule,), {"kind": kind})


def _thnn_backend():
    """torch.nn.backends.thnn._get_thnn_function_backend() of torch <= 1.0: irrelevant here."""
    return None


# The official AttentiveChrome classes (v2PyTorch/models.py), whatever module pickled them.
OFFICIAL_CLASSES = ("att_chrome", "recurrent_encoder", "rec_attention")
_TORCH_NN_CLASSES = {
    ("torch.nn.modules.rnn", "LSTM"), ("torch.nn.modules.linear", "Linear"),
    ("torch.nn.modules.activation", "Softmax"), ("torch.nn.modules.container", "ModuleList"),
    ("torch.nn.modules.dropout", "Dropout"),
}
_MODULE_CLASSES = {}


def _allowed_global(module, name):
    """The object a pickled global (module, name) stands for, or None when it is refused."""
    if (module, name) == ("collections", "OrderedDict"):
        return collections.OrderedDict
    if module in ("builtins", "__builtin__") and name in ("set", "frozenset"):
        return set if name == "set" else frozenset
    if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
        return _rebuild_tensor
    if module == "torch._utils" and name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
        return _rebuild_parameter
    if module in ("torch", "torch.cuda") and name in _STORAGE_TYPES:
        return _storage_type(name)
    if (module, name) == ("torch.nn.backends.thnn", "_get_thnn_function_backend"):
        return _thnn_backend
    if (module, name) in _TORCH_NN_CLASSES or name in OFFICIAL_CLASSES:
        return _MODULE_CLASSES.setdefault(name, _module_class(name))
    return None


class _RestrictedUnpickler(pickle.Unpickler):
    """pickle.Unpickler that resolves globals through _allowed_global only and hands
    persistent ids (storages, legacy module classes) to `on_persistent`."""

    def __init__(self, stream, source, on_persistent=None):
        super().__init__(stream)
        self.source, self.on_persistent = source, on_persistent

    def find_class(self, module, name):
        obj = _allowed_global(module, name)
        if obj is None:
            raise CheckpointError(
                "%s: refuses the pickled global '%s.%s': only torch tensors and storages, OrderedDict and "
                "the official AttentiveChrome / torch.nn module classes are read, and nothing in the file is "
                "executed (is this an AttentiveChrome checkpoint?)" % (self.source, module, name))
        return obj

    def persistent_load(self, pid):
        if self.on_persistent is None:
            raise CheckpointError("%s: unexpected persistent id %r" % (self.source, pid))
        return self.on_persistent(pid)


def _unpickle(stream, source, on_persistent=None):
    try:
        return _RestrictedUnpickler(stream, source, on_persistent).load()
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError,
            struct.error, MemoryError, RecursionError, UnicodeDecodeError) as e:
        raise CheckpointError("%s: not a readable torch checkpoint (%s: %s)" % (source, type(e).__name__, e))


# ---------------------------------------------------------------------------- containers

class _StorageTable:
    """The storages a checkpoint's persistent ids name, by key."""

    def __init__(self, source):
        self.source, self.by_key = source, {}

    def persistent(self, pid):
        if not isinstance(pid, tuple) or not pid:
            raise CheckpointError("%s: malformed persistent id %r" % (self.source, pid))
        if pid[0] == "module" and len(pid) >= 2 and isinstance(pid[1], type) and issubclass(pid[1], PickledModule):
            return pid[1]  # legacy whole-module pickles: ('module', class, source file, source)
        if pid[0] != "storage" or len(pid) not in (5, 6):
            raise CheckpointError("%s: unsupported persistent id %r" % (self.source, pid[:2]))
        stype, key, location, numel = pid[1], str(pid[2]), str(pid[3]), pid[4]
        if not isinstance(stype, StorageType):
            raise CheckpointError("%s: storage %s has type %r, not a torch storage type" % (self.source, key, stype))
        if not isinstance(numel, int) or numel < 0:
            raise CheckpointError("%s: storage %s has element count %r" % (self.source, key, numel))
        root = self.by_key.get(key)
        if root is None:
            root = self.by_key[key] = Storage(key, stype, numel, location)
        elif root.stype.name != stype.name:
            raise CheckpointError("%s: storage %s is named with two types" % (self.source, key))
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return root
        try:
            view_key, view_offset, view_size = view
        except (TypeError, ValueError):
            raise CheckpointError("%s: malformed storage view %r" % (self.source, view))
        v = self.by_key.get(str(view_key))
        if v is None:
            v = self.by_key[str(view_key)] = Storage(str(view_key), stype, int(view_size), location)
            v.view_of, v.view_offset = root, int(view_offset)
        return v


def _load_zip(data, source):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as e:
        raise CheckpointError("%s: a damaged zip archive (%s)" % (source, e))
    pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise CheckpointError("%s: a zip archive but not a torch checkpoint (no single <name>/data.pkl; entries: %s)"
                              % (source, ", ".join(names[:8]) or "none"))
    root = pickles[0][:-len("data.pkl")]
    try:
        big = root + "byteorder" in names and archive.read(root + "byteorder").strip() == b"big"
        table = _StorageTable(source)
        obj = _unpickle(io.BytesIO(archive.read(pickles[0])), source, table.persistent)
        for key, storage in table.by_key.items():
            if storage.view_of is not None:
                continue
            entry = root + "data/" + key
            if entry not in names:
                raise CheckpointError("%s: storage %s is missing from the archive (%s)" % (source, key, entry))
            storage.raw, storage.big_endian = archive.read(entry), big
            if len(storage.raw) < storage.numel * storage.stype.itemsize:
                raise CheckpointError("%s: storage %s holds %d bytes, %d expected"
                                      % (source, key, len(storage.raw), storage.numel * storage.stype.itemsize))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:  # bad CRC, truncated member
        raise CheckpointError("%s: a damaged zip archive (%s)" % (source, e))
    return obj, {"container": "zip", "storages": len(table.by_key)}


def _load_legacy(data, source):
    stream = io.BytesIO(data)
    magic = _unpickle(stream, source)
    if magic != LEGACY_MAGIC:
        raise CheckpointError("%s: not a torch checkpoint (wrong magic number)" % source)
    protocol = _unpickle(stream, source)
    if protocol != LEGACY_PROTOCOL:
        raise CheckpointError("%s: legacy torch format version %r is not supported (only %d)" % (source, protocol, LEGACY_PROTOCOL))
    sys_info = _unpickle(stream, source)
    if not isinstance(sys_info, dict):
        raise CheckpointError("%s: malformed legacy header" % source)
    big = not sys_info.get("little_endian", True)
    table = _StorageTable(source)
    obj = _unpickle(stream, source, table.persistent)
    keys = _unpickle(stream, source)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointError("%s: malformed storage key list" % source)
    for key in keys:
        storage = table.by_key.get(key)
        if storage is None:
            raise CheckpointError("%s: storage %s is listed but no tensor uses it" % (source, key))
        head = stream.read(8)
        if len(head) != 8:
            raise CheckpointError("%s: truncated: storage %s is cut short" % (source, key))
        (count,) = struct.unpack(">q" if big else "<q", head)
        size = count * storage.stype.itemsize
        if count < 0 or size > len(data):
            raise CheckpointError("%s: storage %s claims %d elements" % (source, key, count))
        raw = stream.read(size)
        if len(raw) != size:
            raise CheckpointError("%s: truncated: storage %s has %d of its %d bytes" % (source, key, len(raw), size))
        storage.raw, storage.big_endian = raw, big
    return obj, {"container": "legacy", "storages": len(keys)}


def load(path):
    """Reads `path`; returns (object, info) with info["container"] "zip" or "legacy".
    Raises CheckpointError (naming the file) for anything that is not such a checkpoint."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointError("%s: cannot read the file (%s)" % (path, e.strerror or e))
    if not data:
        raise CheckpointError("%s: empty file, not a torch checkpoint" % path)
    if len(data) > 262 and data[257:262] == b"ustar":
        raise CheckpointError("%s: a tar-format checkpoint (torch < 0.1.10): not supported" % path)
    if data[:4] != b"PK\x03\x04" and data[:1] != b"\x80":
        raise CheckpointError("%s: not a torch checkpoint (neither a zip archive nor a pickle)" % path)
    try:
        obj, info = (_load_zip if data[:1] == b"P" else _load_legacy)(data, path)
        # Materialise every tensor now, so that storage errors surface here.
        for name, t in _tensors(obj):
            try:
                t.data()
            except CheckpointError as e:
                raise CheckpointError("%s: tensor '%s': %s" % (path, name, e))
    except CheckpointError:
        raise
    except Exception as e:  # a malformed file the checks above did not foresee: still bad input
        raise CheckpointError("%s: not a readable torch checkpoint (%s: %s)" % (path, type(e).__name__, e))
    return obj, info


def _tensors(obj, prefix="", seen=None):
    """(name, Tensor) for the tensors reachable from obj through dicts, lists and modules."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, "%s%s%s" % (prefix, "." if prefix else "", k), seen)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, "%s[%d]" % (prefix, i), seen)
    elif isinstance(obj, PickledModule):
        yield from _tensors(vars(obj), prefix, seen)


def state_dict(obj):
    """{name: Tensor} of a loaded checkpoint: a state_dict (a mapping of names to tensors)
    as is, or, for a whole pickled module, its parameters and buffers named as
    module.state_dict() names them. Raises CheckpointError for anything else."""
    if isinstance(obj, PickledModule):
        out = collections.OrderedDict()

        def walk(module, prefix):
            d = vars(module)
            for group in ("_parameters", "_buffers"):
                for k, v in (d.get(group) or {}).items():
                    if v is None:
                        continue
                    if not isinstance(v, Tensor):
                        raise CheckpointError("%s%s is a %s, not a tensor" % (prefix, k, type(v).__name__))
                    out[prefix + k] = v
            for k, child in (d.get("_modules") or {}).items():
                if child is None:
                    continue
                if not isinstance(child, PickledModule):
                    raise CheckpointError("submodule %s%s is a %s" % (prefix, k, type(child).__name__))
                walk(child, prefix + k + ".")

        walk(obj, "")
        return out
    if isinstance(obj, dict):
        bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
        if bad:
            raise CheckpointError("holds a dict whose entries %s are not tensors: not a state_dict"
                                  % ", ".join(repr(k) for k in bad[:5]))
        return collections.OrderedDict(obj)
    raise CheckpointError("holds a %s, not a state_dict or a pickled AttentiveChrome module" % type(obj).__name__)
