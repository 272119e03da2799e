"""Where the capture shows SPIs, as NumPy arrays: the working form of the reference table.

A *reference* is a top-level ESP/AH header or the IPsec header an ICMP error quotes.  The
clock estimate and the matching look at every one of them.  Over a million packets a
pandas table of them (``ReferenceIndex.table``) takes about 90 MiB and its string columns
most of the time, so they work on these arrays instead (positions in the packets table,
numbers, and codes for the addresses) and turn only the references they keep into rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .masks import arrow, by_chunk, kind_in, present, take_sorted
from .schema import IPSEC_KINDS

# Roles, in the order the matching sorts them (alphabetical, as their names sort).
ROLES = np.array(["esp", "quoted-by-icmp", "sent-by-device", "sent-by-peer"], dtype=object)
ESP, QUOTED, SENT_BY_DEVICE, SENT_BY_PEER = range(4)
_ROLE_OF_WAY = np.array([ESP, SENT_BY_DEVICE, SENT_BY_PEER, SENT_BY_PEER] + [QUOTED] * 4, dtype=np.int8)


@dataclass(frozen=True)
class ReferenceIndex:
    """One entry per reference: the top-level ones in packet order, then the quoted ones."""

    row: np.ndarray          # int64: position in the packets table
    ns: np.ndarray           # int64: packet time, nanoseconds
    spi: np.ndarray          # uint32
    seq: np.ndarray          # uint32; 0 where ``has_seq`` is False
    has_seq: np.ndarray      # bool
    quoted: np.ndarray       # bool: the header quoted inside an ICMP error
    sender: np.ndarray       # int32: code in ``addresses`` of the IPsec packet's source (-1: none)
    receiver: np.ndarray     # int32: ... of its destination
    addresses: np.ndarray    # object: the distinct addresses
    # with_spi_seq's answers: the estimate and the matching ask for the same lines' pairs
    _sorted: dict = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.row)

    def with_spi_seq(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The references whose (SPI, SEQ) ``spi_seq`` code is one of ``wanted``, sorted by
        (code, time; ties in table order): their positions here and their codes.  Only
        these are sorted: a log names a small share of the capture's sequence numbers.
        The arrays are shared between calls: read them, do not change them."""
        wanted = np.unique(wanted)
        key = wanted.tobytes()
        if key not in self._sorted:
            r = np.flatnonzero(self.has_seq)
            r = r[_seq_may_be_in(self.seq[r], wanted)]
            code = spi_seq(self.spi[r], self.seq[r])
            keep = pd.Series(code, copy=False).isin(wanted).to_numpy()    # a hash lookup each
            r, code = r[keep], code[keep]
            order = np.lexsort((self.ns[r], code))
            self._sorted[key] = (r[order], code[order])
        return self._sorted[key]

    def addresses_of(self, codes: np.ndarray) -> set[str]:
        """The distinct addresses these codes name (-1 names none), marked in one pass
        instead of sorting the codes."""
        named = np.zeros(len(self.addresses) + 1, dtype=bool)
        named[codes] = True               # -1 marks the extra last slot
        return set(self.addresses[named[:-1]])

    def roles(self, local: set[str]) -> np.ndarray:
        """Per reference, its role as a position in ``ROLES``: quoted by an ICMP error, sent
        by the peer (to one of the device's ``local`` addresses), sent by the device, or
        neither ("esp")."""
        # One more False at the end: code -1 (no address) reads it.
        is_local = np.append(np.isin(self.addresses, list(local)), False)
        # quoted, to the device, from the device as three bits; the first set one decides
        way = (self.quoted.view(np.uint8) << 2) | (is_local[self.receiver].view(np.uint8) << 1) \
            | is_local[self.sender].view(np.uint8)
        return _ROLE_OF_WAY[way]

    def table(self, packets: pd.DataFrame) -> pd.DataFrame:
        """The references as a table: capture, frame, time, spi, seq, where (esp | quoted),
        sender, receiver and, for a quoted one, the router that sent the ICMP error."""
        at = self.row
        addresses = np.array([*self.addresses, None], dtype=object)      # code -1: missing
        router = np.array(_column(packets, "src", at), dtype=object)
        router[~self.quoted] = None
        return pd.DataFrame({
            "capture": _column(packets, "capture", at), "frame": _column(packets, "frame", at),
            "time": _column(packets, "time", at),
            "spi": pd.array(self.spi, dtype="UInt32"),
            "seq": pd.arrays.IntegerArray(self.seq.astype(np.uint32), ~self.has_seq),
            "where": np.where(self.quoted, "quoted", "esp").astype(object),
            "sender": addresses[self.sender], "receiver": addresses[self.receiver], "router": router,
        })


def spi_seq(spi, seq) -> np.ndarray:
    """(SPI, SEQ) as one exact number (both are 32-bit)."""
    return np.asarray(spi).astype(np.uint64) << np.uint64(32) | np.asarray(seq).astype(np.uint64)


def _seq_may_be_in(seq: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Which of these sequence numbers some wanted (SPI, SEQ) code has: a table lookup where
    the wanted numbers are small (most are), so that only these few are hashed with their
    SPI; all True where a table would be too big."""
    wanted_seq = (wanted & np.uint64(0xFFFFFFFF)).astype(np.int64)
    if not len(wanted_seq) or wanted_seq.max() >= 1 << 24:
        return np.ones(len(seq), dtype=bool)
    table = np.zeros(int(wanted_seq.max()) + 2, dtype=bool)    # the last slot: every larger number
    table[wanted_seq] = True
    return table[np.minimum(seq, len(table) - 1)]


def reference_index(packets: pd.DataFrame) -> ReferenceIndex:
    """Every SPI occurrence in ``packets``."""
    top = np.flatnonzero(kind_in(packets, IPSEC_KINDS) & present(packets, "spi"))
    quoted = np.flatnonzero(kind_in(packets, "icmp-error") & present(packets, "inner_spi"))
    seq = [_take(packets, "seq", top), _take(packets, "inner_seq", quoted)]
    addresses: dict[str, int] = {}
    sender = [_address_codes(packets, "src", top, addresses), _address_codes(packets, "inner_src", quoted, addresses)]
    receiver = [_address_codes(packets, "dst", top, addresses),
                _address_codes(packets, "inner_dst", quoted, addresses)]
    time = pc.cast(arrow(packets["time"]), pa.int64())
    return ReferenceIndex(
        row=np.concatenate([top, quoted]),
        ns=np.concatenate([_numbers(take_sorted(time, top)), _numbers(take_sorted(time, quoted))]),
        spi=np.concatenate([_numbers(_take(packets, "spi", top), np.uint32),
                            _numbers(_take(packets, "inner_spi", quoted), np.uint32)]),
        seq=np.concatenate([_numbers(s, np.uint32) for s in seq]),
        has_seq=np.concatenate([np.asarray(pc.is_valid(s).to_numpy(), dtype=bool) for s in seq]),
        quoted=np.concatenate([np.zeros(len(top), bool), np.ones(len(quoted), bool)]),
        sender=np.concatenate(sender), receiver=np.concatenate(receiver),
        addresses=np.asarray(list(addresses), dtype=object))


def _take(packets: pd.DataFrame, name: str, at: np.ndarray) -> pa.ChunkedArray:
    return take_sorted(arrow(packets[name]), at)


def _numbers(values: pa.ChunkedArray, dtype=np.int64) -> np.ndarray:
    """Integer values as NumPy integers (0 where missing)."""
    return np.asarray(pc.fill_null(values, 0).to_numpy(), dtype=dtype)


def _address_codes(packets: pd.DataFrame, name: str, at: np.ndarray, codes: dict[str, int]) -> np.ndarray:
    """The addresses at these sorted positions as int32 codes (-1 where missing), each new
    address given the next code in ``codes``.  A chunk where most rows are wanted is
    dictionary-encoded whole (its codes cost 4 bytes a row; taking the strings first
    would copy them); from one where few are, the few strings are taken first."""
    out = [np.array([], dtype=np.int32)]
    for chunk, local in by_chunk(arrow(packets[name]), at):
        if not len(local):
            continue
        few = len(local) * 8 < len(chunk)
        encoded = (chunk.take(pa.array(local, pa.int64())) if few else chunk).dictionary_encode()
        index = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(), dtype=np.int64)
        to_code = np.array([codes.setdefault(v, len(codes)) for v in encoded.dictionary.to_pylist()] + [-1],
                           dtype=np.int32)
        out.append(to_code[index if few else index[local]])
    return np.concatenate(out)


def _column(packets: pd.DataFrame, name: str, at: np.ndarray):
    """The packets' column at these positions, of the column's own type."""
    column = packets[name]
    return column.iloc[at].to_numpy() if not isinstance(column.dtype, pd.ArrowDtype) else \
        pd.array(column.array.take(at), dtype=column.dtype)
