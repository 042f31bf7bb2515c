"""Read TensorFlow 1.x checkpoints (tensor bundles) without TensorFlow.

A TF1 ``tf.train.Saver`` checkpoint ``PREFIX`` is two or more files:

* ``PREFIX.index``: a LevelDB-format sorted table (SSTable) mapping each variable name to a
  serialized ``BundleEntryProto``; the empty key holds the ``BundleHeaderProto``;
* ``PREFIX.data-SSSSS-of-NNNNN``: the raw little-endian tensor bytes, ``N`` shards.

Table layout (leveldb ``table_format.md``, as written by ``tensorflow/core/lib/io/table_builder``):
the last 48 bytes are the footer, two varint block handles (metaindex, index) zero-padded to 40
bytes, then the 8-byte magic ``0xdb4775248b80fb57``. Every block is followed by a 5-byte trailer
(compression type, masked CRC-32C of block + type byte); TF writes uncompressed blocks. A block
is a run of prefix-compressed entries (varints ``shared``, ``unshared``, ``value_len``, then the
key suffix and the value) followed by the restart offsets (uint32 each) and their count. The index
block's values are handles of the data blocks.

Protobuf fields used (``tensorflow/core/protobuf/tensor_bundle.proto``): header ``num_shards`` (1),
``endianness`` (2, 0 = little); entry ``dtype`` (1), ``shape`` (2: ``TensorShapeProto.dim`` (2)
with ``size`` (1)), ``shard_id`` (3), ``offset`` (4), ``size`` (5), ``crc32c`` (6, fixed32,
masked) and ``slices`` (7; partitioned variables are refused).

Every block and tensor checksum is verified (CRC-32C, Castagnoli); any inconsistency raises a
one-line :class:`~fusionbench.errors.WeightsError` naming the file.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusionbench.errors import WeightsError

_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48

# tensorflow/core/framework/types.proto DataType -> NumPy (little-endian)
_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "?", 17: "<u2",
           19: "<f2", 22: "<u4", 23: "<u8"}


def _crc_table() -> list[int]:
    poly = 0x82F63B78  # reflected Castagnoli polynomial
    table = []
    for byte in range(256):
        r = byte
        for _ in range(8):
            r = (r >> 1) ^ (poly if r & 1 else 0)
        table.append(r)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data`` (init and final xor 0xFFFFFFFF)."""
    t = _TABLE
    r = 0xFFFFFFFF
    for b in data:
        r = t[(r ^ b) & 0xFF] ^ (r >> 8)
    return r ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """LevelDB/TF masked CRC: rotate right by 15 bits and add 0xa282ead8 (mod 2**32)."""
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


class _Bad(Exception):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise _Bad("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise _Bad("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int]]:
    """Decode a protobuf message into ``[(field_number, value)]`` (bytes for length-delimited)."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            v, pos = _varint(buf, pos)
        elif wire == 1:
            v, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            v, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            v, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise _Bad(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise _Bad("truncated protobuf message")
        out.append((num, v))
    return out


def _block(buf: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if end + 5 > len(buf):
        raise _Bad(f"block at {offset} runs past the end of the file")
    if buf[end] != 0:
        raise _Bad(f"compressed table block (type {buf[end]}) not supported")
    stored = struct.unpack_from("<I", buf, end + 1)[0]
    if masked_crc(buf[offset:end + 1]) != stored:
        raise _Bad(f"checksum mismatch in table block at {offset}")
    return buf[offset:end]


def _entries(block: bytes):
    if len(block) < 4:
        raise _Bad("table block too short")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise _Bad("bad restart count in table block")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + vlen > limit:
            raise _Bad("corrupt table entry")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + vlen]
        pos += vlen


@dataclass(frozen=True)
class Entry:
    """Where one tensor lives: dtype (NumPy string), shape, shard, byte offset, size, masked CRC."""

    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int | None


def _entry(value: bytes, name: str) -> Entry:
    dtype, shape, shard, offset, size, crc = None, [], 0, 0, 0, None
    for num, v in _fields(value):
        if num == 1:
            dtype = v
        elif num == 2:
            for n2, v2 in _fields(v):
                if n2 == 2:
                    shape.append(dict(_fields(v2)).get(1, 0))
                elif n2 == 3 and v2:
                    raise _Bad(f"{name}: tensor of unknown rank")
        elif num == 3:
            shard = v
        elif num == 4:
            offset = v
        elif num == 5:
            size = v
        elif num == 6:
            crc = v
        elif num == 7:
            raise _Bad(f"{name}: partitioned (sliced) variable not supported")
    if dtype not in _DTYPES:
        raise _Bad(f"{name}: unsupported dtype {dtype}")
    return Entry(_DTYPES[dtype], tuple(int(s) for s in shape), shard, offset, size, crc)


def _index(path: Path) -> tuple[int, dict[str, Entry]]:
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read checkpoint index ({exc.strerror})") from None
    try:
        if len(buf) < _FOOTER or struct.unpack_from("<Q", buf, len(buf) - 8)[0] != _MAGIC:
            raise _Bad("not a TensorFlow checkpoint index (no table magic)")
        footer = buf[len(buf) - _FOOTER:]
        _, pos = _varint(footer, 0)          # metaindex offset
        _, pos = _varint(footer, pos)        # metaindex size
        ix_off, pos = _varint(footer, pos)
        ix_size, _ = _varint(footer, pos)
        header, entries, last = None, {}, None
        for _, handle in _entries(_block(buf, ix_off, ix_size)):
            off, p = _varint(handle, 0)
            size, _ = _varint(handle, p)
            for key, value in _entries(_block(buf, off, size)):
                if last is not None and key <= last:
                    raise _Bad("table keys not in increasing order")
                last = key
                if key == b"":
                    header = dict(_fields(value))
                else:
                    name = key.decode("utf-8")
                    entries[name] = _entry(value, name)
        if header is None:
            raise _Bad("no bundle header")
        if header.get(2, 0) != 0:
            raise _Bad("big-endian bundle not supported")
        return int(header.get(1, 1)), entries
    except _Bad as exc:
        raise WeightsError(f"{path}: corrupt checkpoint index: {exc}") from None


def read_entries(prefix: Path | str) -> dict[str, Entry]:
    """Name -> :class:`Entry` for every tensor of the checkpoint ``prefix`` (no data read)."""
    return _index(Path(f"{prefix}.index"))[1]


def read_bundle(prefix: Path | str, names=None, *, verify: bool = True) -> dict[str, np.ndarray]:
    """Read tensors of the TF1 checkpoint ``prefix`` (the path without ``.index``).

    ``names``: the variables to read (default: all); a missing name is a ``WeightsError``.
    Arrays are fresh native-order copies in the TF layout (conv kernels HWIO). With ``verify``
    each tensor's CRC-32C is checked against the index.
    """
    prefix = Path(prefix)
    num_shards, entries = _index(Path(f"{prefix}.index"))
    wanted = sorted(entries) if names is None else list(names)
    missing = [n for n in wanted if n not in entries]
    if missing:
        raise WeightsError(f"{prefix}.index: variables not in the checkpoint: {', '.join(missing[:5])}")
    shards: dict[int, bytes] = {}
    out = {}
    for name in wanted:
        e = entries[name]
        if e.shard not in shards:
            data_path = Path(f"{prefix}.data-{e.shard:05d}-of-{num_shards:05d}")
            try:
                shards[e.shard] = data_path.read_bytes()
            except OSError as exc:
                raise WeightsError(f"{data_path}: cannot read checkpoint data ({exc.strerror})") from None
        buf = shards[e.shard]
        dt = np.dtype(e.dtype)
        count = int(np.prod(e.shape, dtype=np.int64))
        where = f"{prefix}.data-{e.shard:05d}-of-{num_shards:05d}"
        if e.size != count * dt.itemsize or e.offset + e.size > len(buf):
            raise WeightsError(f"{where}: tensor {name} has a bad size or offset (truncated file?)")
        raw = buf[e.offset:e.offset + e.size]
        if verify and (e.crc is None or masked_crc(raw) != e.crc):
            raise WeightsError(f"{where}: checksum mismatch for tensor {name} (corrupt file)")
        out[name] = np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(e.shape)
    return out


_OPTIMIZER = ("/Adam", "/Adam_1")
_OPTIMIZER_NAMES = ("beta1_power", "beta2_power", "global_step", "Variable")


def model_variables(prefix: Path | str) -> dict[str, np.ndarray]:
    """The checkpoint's model variables: every tensor except optimizer state (``*/Adam``,
    ``*/Adam_1``, ``beta1_power``, ``beta2_power``) and step counters (``global_step``, a bare
    int32 ``Variable``)."""
    names = [n for n in read_entries(prefix)
             if not n.endswith(_OPTIMIZER) and n not in _OPTIMIZER_NAMES]
    return read_bundle(prefix, names)


def checkpoint(rel_prefix: str, source: str, who: str, ctx=None) -> Path:
    """Locate the checkpoint ``rel_prefix`` (e.g. ``PMGI/PMGI``) under the weights root.

    Both the ``.index`` and the single ``.data-00000-of-00001`` file must exist; otherwise a
    one-line ``MissingWeightsError`` names the missing file and ``source``. Returns the prefix.
    """
    from fusionbench.methods import _nets

    index = _nets.weights_file(f"{rel_prefix}.index", source, who, ctx)
    _nets.weights_file(f"{rel_prefix}.data-00000-of-00001", source, who, ctx)
    return index.with_name(index.name[: -len(".index")])


@dataclass(frozen=True)
class Node:
    """One ``NodeDef`` of a saved graph: name, op, inputs and raw ``AttrValue`` messages."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, bytes]

    def attr_float(self, key: str) -> float:
        """``AttrValue.f`` (field 4, fixed32)."""
        return struct.unpack("<f", struct.pack("<I", dict(_fields(self.attrs[key]))[4]))[0]

    def attr_str(self, key: str) -> str:
        """``AttrValue.s`` (field 2)."""
        return dict(_fields(self.attrs[key]))[2].decode()

    def attr_ints(self, key: str) -> list[int]:
        """``AttrValue.list.i`` (field 1 -> field 3, packed or not)."""
        out = []
        for num, v in _fields(dict(_fields(self.attrs[key]))[1]):
            if num == 3:
                if isinstance(v, bytes):
                    pos = 0
                    while pos < len(v):
                        x, pos = _varint(v, pos)
                        out.append(x)
                else:
                    out.append(v)
        return out


def meta_graph_nodes(path: Path | str) -> list[Node]:
    """The nodes of the ``GraphDef`` in a ``.meta`` file (``MetaGraphDef.graph_def``, field 2).

    Used by the tests to compare the rebuilt networks with the authors' saved graph structure.
    """
    path = Path(path)
    try:
        graph = [v for num, v in _fields(path.read_bytes()) if num == 2]
        if not graph:
            raise _Bad("no graph_def")
        nodes = []
        for num, v in _fields(graph[0]):
            if num != 1:
                continue
            f = _fields(v)
            attrs = {}
            for k, x in f:
                if k == 5:
                    entry = dict(_fields(x))
                    attrs[entry[1].decode()] = entry.get(2, b"")
            nodes.append(Node(next(x for k, x in f if k == 1).decode(),
                              next(x for k, x in f if k == 2).decode(),
                              tuple(x.decode() for k, x in f if k == 3), attrs))
        return nodes
    except (_Bad, StopIteration, KeyError, UnicodeDecodeError, struct.error) as exc:
        raise WeightsError(f"{path}: not a readable MetaGraphDef ({exc})") from None
