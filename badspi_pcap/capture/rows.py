"""Decoded rows as NumPy arrays, and the ``packets`` Arrow table made from them once.

The decoder fills a ``Rows`` per batch: plain arrays, cheap to join and to send back
from a worker process.  Text columns stay codes (kinds, notes, exchange types) or raw
bytes (addresses, IKE SPIs) until ``rows_table`` turns all batches of a capture into
the table at once, converting each distinct address once for the whole capture.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema

# Columns filled for some rows only: (row indices, values, valid), the rest null.
SPARSE = {f.name: f.type for f in schema.PACKETS
          if f.name in ("ip_ttl", "ip_id", "sport", "dport", "spi", "seq", "ike_version", "ike_msgid", "ike_initiator",
                        "ike_response",
                        "icmp_type", "icmp_code", "icmp_mtu", "inner_proto", "inner_sport", "inner_dport",
                        "inner_spi", "inner_seq", "inner_bytes")}
IKE_SPIS = ("ike_ispi", "ike_rspi")


DENSE = ("frame", "time", "kind", "ip_version", "vlan", "length", "ip_length", "note")


def numpy_type(type_: pa.DataType):
    return np.bool_ if pa.types.is_boolean(type_) else type_.to_pandas_dtype()


@dataclass
class Rows:
    """The rows of some frames.  ``sparse[name]`` = (row indices, values); only valid values
    are kept.  ``v4[name]`` = (rows, uint32 addresses), ``v6[name]`` = (rows, (k, 16) bytes);
    ``spis[name]`` = (rows, (k, 8) bytes); ``exchange`` = (rows, version * 256 + code)."""

    frame: np.ndarray
    time: np.ndarray
    kind: np.ndarray            # int8 index into KINDS
    ip_version: np.ndarray      # uint8
    vlan: np.ndarray            # int32, -1 untagged
    length: np.ndarray          # uint32
    ip_length: np.ndarray       # uint32
    note: np.ndarray            # int8 index into NOTES (0: none)
    sparse: dict = field(default_factory=dict)
    v4: dict = field(default_factory=dict)
    v6: dict = field(default_factory=dict)
    spis: dict = field(default_factory=dict)
    exchange: tuple = (np.empty(0, np.int64), np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.frame)

    def set(self, name: str, at: np.ndarray, values, valid=True) -> None:
        """Column ``name`` of rows ``at`` (where ``valid``); other rows stay null."""
        shape = (len(at),)
        values = np.asarray(values)
        if values.shape != shape:   # (broadcast_to costs more than the usual check)
            values = np.broadcast_to(values, shape)
        if valid is not True:
            valid = np.asarray(valid, dtype=bool)
            if valid.shape != shape:
                valid = np.broadcast_to(valid, shape)
            if not valid.all():   # usually all are: no selection (a boolean one is slow)
                keep = np.flatnonzero(valid)
                at, values = at[keep], values[keep]
        self.sparse[name] = (np.asarray(at, dtype=np.int64), values.astype(numpy_type(SPARSE[name])))

    @classmethod
    def empty(cls) -> "Rows":
        z = np.empty(0, np.int64)
        return cls(frame=z, time=z, kind=z.astype(np.int8), ip_version=z.astype(np.uint8), vlan=z.astype(np.int32),
                   length=z.astype(np.uint32), ip_length=z.astype(np.uint32), note=z.astype(np.int8))

    @classmethod
    def join(cls, parts: list["Rows"]) -> "Rows":
        """The rows of ``parts`` one after the other.  The parts are emptied column by
        column as they are joined, so memory never holds two copies of all rows."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        base = np.cumsum([0] + [len(p) for p in parts[:-1]])
        dense: dict[str, Any] = {}
        for name in DENSE:
            dense[name] = np.concatenate([getattr(p, name) for p in parts])
            for p in parts:
                setattr(p, name, None)
        out = cls(**dense)
        for attr in ("sparse", "v4", "v6", "spis"):
            names = sorted({n for p in parts for n in getattr(p, attr)})
            for n in names:
                have = [(b, getattr(p, attr).pop(n)) for b, p in zip(base, parts) if n in getattr(p, attr)]
                getattr(out, attr)[n] = (_shifted([at for _, (at, _) in have], [b for b, _ in have]),
                                         np.concatenate([v for _, (_, v) in have]))
        out.exchange = (np.concatenate([p.exchange[0] + b for b, p in zip(base, parts)]),
                        np.concatenate([p.exchange[1] for p in parts]))
        return out


def _every_row(at: np.ndarray, n: int) -> bool:
    """``at`` is 0, 1, ..., n - 1 (n increasing row numbers below n)."""
    return len(at) == n and (n < 2 or bool((at[1:] > at[:-1]).all()))


def _shifted(ats: list[np.ndarray], bases: list[int]) -> np.ndarray:
    """``np.concatenate([at + b ...])`` in one pass."""
    out = np.empty(sum(len(at) for at in ats), dtype=np.int64)
    i = 0
    for at, b in zip(ats, bases):
        np.add(at, b, out=out[i:i + len(at)])
        i += len(at)
    return out


def rows_table(rows: Rows, capture: str, kinds: list[str], notes: list[str], exchange_name) -> pa.Table:
    """The ``packets`` table of ``rows`` (``schema.PACKETS``).  Takes the rows' sparse
    columns out as it converts them (less memory at the peak): ``rows`` is used up."""
    n = len(rows)
    noted = np.flatnonzero(rows.note)    # rows with a note (usually few)
    out = {
        "capture": _constant_strings(capture, n),
        "frame": _numeric(rows.frame, pa.int64()),
        "time": _numeric(rows.time, pa.int64()).view(schema.UTC_NS),
        "kind": _take(kinds, rows.kind.astype(np.int32), None),
        "ip_version": _numeric(rows.ip_version, pa.uint8()),
        "vlan": _numeric(np.maximum(rows.vlan, 0).astype(np.uint16), pa.uint16(), rows.vlan >= 0),
        "length": _numeric(rows.length, pa.uint32()),
        "ip_length": _numeric(rows.ip_length, pa.uint32()),
        "note": _scatter_strings(n, noted, notes, rows.note[noted].astype(np.int32)),
    }
    for pair in (("src", "dst"), ("inner_src", "inner_dst")):
        out.update(zip(pair, _addresses(n, [rows.v4.pop(name, None) for name in pair],
                                           [rows.v6.pop(name, None) for name in pair])))
    for name in IKE_SPIS:
        out[name] = _hex(n, rows.spis.pop(name, None))
    at, key = rows.exchange
    uniq, codes = np.unique(key, return_inverse=True)
    out["ike_exchange"] = _scatter_strings(n, at, [exchange_name(int(k) >> 8, int(k) & 0xFF) for k in uniq], codes)
    for name, type_ in SPARSE.items():
        at, values = rows.sparse.pop(name, (np.empty(0, np.int64), np.empty(0, numpy_type(type_))))
        if _every_row(at, n):   # already dense, in row order
            out[name] = _numeric(values, type_)
            continue
        dense = np.zeros(n, dtype=numpy_type(type_))
        dense[at] = values
        valid = np.zeros(n, dtype=bool)
        valid[at] = True
        out[name] = _numeric(dense, type_, valid)
    return pa.Table.from_arrays([out[f.name] for f in schema.PACKETS], schema=schema.PACKETS)


def _validity(valid: np.ndarray | None):
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _numeric(values: np.ndarray, type_: pa.DataType, valid: np.ndarray | None = None) -> pa.Array:
    """An Arrow array over the NumPy values (no copy, no per-value checks)."""
    if pa.types.is_boolean(type_):
        data = pa.py_buffer(np.packbits(values.astype(bool), bitorder="little"))
    else:
        data = pa.py_buffer(np.ascontiguousarray(values.astype(numpy_type(type_), copy=False)))
    return pa.Array.from_buffers(type_, len(values), [_validity(valid), data])


def _take(names: list[str], codes: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    indices = pa.Array.from_buffers(pa.int32(), len(codes), [_validity(valid), pa.py_buffer(codes)])
    return pa.array(names, type=pa.string()).take(indices)


def _scatter_strings(n: int, at: np.ndarray, names: list[str], codes: np.ndarray) -> pa.Array:
    """Strings ``names[codes]`` at rows ``at``, null elsewhere."""
    if not len(at):
        return pa.nulls(n, type=pa.string())
    if _every_row(at, n):   # the codes are already the index
        return _take(names, np.ascontiguousarray(codes, dtype=np.int32), None)
    if len(at) * 4 < n:     # a few rows: their strings, then room for the nulls (cheaper than a take of n)
        return _sparse_strings(n, at, names, codes)
    index = np.zeros(n, dtype=np.int32)
    index[at] = codes
    if len(at) == n:        # every row, out of order (IPv4 rows, then IPv6 ones): no nulls
        return _take(names, index, None)
    valid = np.zeros(n, dtype=bool)
    valid[at] = True
    return _take(names, index, valid)


def _sparse_strings(n: int, at: np.ndarray, names: list[str], codes: np.ndarray) -> pa.Array:
    """``_scatter_strings`` built from the strings of rows ``at`` only: their bytes in row
    order, and offsets that give every other row no bytes (a null)."""
    if len(at) > 1 and not (at[1:] > at[:-1]).all():
        order = np.argsort(at, kind="stable")
        at, codes = at[order], codes[order]
    some = pa.array(names, type=pa.string()).take(pa.array(np.asarray(codes, dtype=np.int32)))
    ends = np.frombuffer(some.buffers()[1], dtype=np.int32, count=len(some) + 1, offset=4 * some.offset)
    # offsets: the end of the strings so far, repeated up to each string's row (a repeat
    # is many times quicker than a cumulative sum over n)
    offsets = np.repeat(ends - ends[0], np.diff(np.concatenate([[-1], at, [n]])))
    valid = np.zeros(n, dtype=bool)
    valid[at] = True
    data = some.buffers()[2] or pa.py_buffer(b"")
    if int(ends[0]):
        data = data[int(ends[0]):]
    return pa.Array.from_buffers(pa.string(), n, [_validity(valid), pa.py_buffer(offsets), data])


def _constant_strings(text: str, n: int) -> pa.Array:
    raw = text.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(raw) if len(raw) * n < 1 << 31 else None
    if offsets is None:
        return pa.array([text] * n, type=pa.string())
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw * n)])


def _addresses(n: int, v4s: list, v6s: list) -> list[pa.Array]:
    """Text address columns (e.g. src and dst), converting each distinct address once."""
    empty = (np.empty(0, np.int64), None)
    v4s = [v if v is not None else (empty[0], np.empty(0, np.uint32)) for v in v4s]
    v6s = [v if v is not None else (empty[0], np.empty((0, 16), np.uint8)) for v in v6s]
    names: list[str] = []
    codes4 = codes6 = []
    values = np.concatenate([v for _, v in v4s])
    if len(values):
        inverse, uniq = pd.factorize(values)  # hashing: faster than np.unique's sort
        packed = uniq.astype(">u4").tobytes()
        names.extend(socket.inet_ntoa(packed[i:i + 4]) for i in range(0, len(packed), 4))
        codes4 = np.split(inverse, np.cumsum([len(v) for _, v in v4s])[:-1])
    raw = np.concatenate([v for _, v in v6s])
    if len(raw):
        inverse, uniq = _factorize_bytes(raw)
        base = len(names)
        names.extend(str(ipaddress.IPv6Address(u)) for u in uniq)
        codes6 = np.split(base + inverse, np.cumsum([len(v) for _, v in v6s])[:-1])
    out = []
    for k in range(len(v4s)):
        at = np.concatenate([v4s[k][0], v6s[k][0]])
        if not len(at):
            out.append(pa.nulls(n, type=pa.string()))
            continue
        parts = ([codes4[k]] if len(codes4) else []) + ([codes6[k]] if len(codes6) else [])
        out.append(_scatter_strings(n, at, names, np.concatenate(parts).astype(np.int32)))
    return out


def _hex(n: int, spis) -> pa.Array:
    """8 bytes per row as 16 hex digits (IKE SPIs), each distinct value converted once."""
    if spis is None or not len(spis[0]):
        return pa.nulls(n, type=pa.string())
    at, raw = spis
    inverse, uniq = _factorize_bytes(raw)
    return _scatter_strings(n, at, [u.hex() for u in uniq], inverse.astype(np.int32))


def _factorize_bytes(raw: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """(code per row, distinct values) of an (n, 8) or (n, 16) byte matrix, by hashing
    (``pd.factorize``; faster than sorting the rows as ``np.unique`` does)."""
    words = np.ascontiguousarray(raw).view("<u8")      # (n, 1) or (n, 2)
    codes, uniq = pd.factorize(words[:, 0])
    for k in range(1, words.shape[1]):  # one code for each distinct pair: codes of the codes
        more, more_uniq = pd.factorize(words[:, k])
        codes, pairs = pd.factorize(codes * len(more_uniq) + more)
        uniq = np.stack([uniq[pairs // len(more_uniq)], more_uniq[pairs % len(more_uniq)]], axis=1)
    return codes, [u.tobytes() for u in np.asarray(uniq, dtype="<u8").reshape(len(uniq), -1)]
