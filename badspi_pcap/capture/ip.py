"""IPv4 / IPv6 headers, for the outer packet and for the packet quoted in an ICMP error.

Works on many headers at once: ``parse_ip`` takes the offsets of IP headers in a
batch and returns arrays.  IPv6 extension headers are walked (bounded), fragments
recognised: only a first fragment carries the IPsec header.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from .frames import Fields, among

# IPv6 extension headers we walk over.  AH (51) and ESP (50) end the walk: they are
# what we are looking for.
HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS, MOBILITY, HIP, SHIM6 = 0, 43, 44, 60, 135, 139, 140
IPV6_EXTENSIONS = (HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS, MOBILITY, HIP, SHIM6)
MAX_EXTENSION_HEADERS = 8


@dataclass
class IpHeaders:
    ok: np.ndarray          # header present and sane
    version: np.ndarray     # 4 or 6 (0 when not ok)
    proto: np.ndarray       # upper-layer protocol after extension headers (-1 unknown)
    l4: np.ndarray          # absolute offset of the upper-layer header
    length: np.ndarray      # IP total length claimed by the header
    later_fragment: np.ndarray  # a non-first fragment: carries no upper-layer header
    addr: np.ndarray        # absolute offset of the source address (dst follows it)
    ttl: np.ndarray         # IPv4 TTL / IPv6 hop limit (-1 when not ok)
    ident: np.ndarray       # IPv4 identification (-1 for IPv6 or not ok)
    v4_addresses: np.ndarray | None = None   # IPv4 source << 32 | destination where ok (when read with the header)
    following: np.ndarray | None = None      # the 8 bytes at offset 20 (after an option-less IPv4 header), big-endian


def parse_ip(f: Fields, rows: np.ndarray, l3: np.ndarray) -> IpHeaders:
    """Parse the IP headers at ``l3`` of frames ``rows`` (version from the header itself)."""
    n = len(rows)
    # The usual case: every header has its first 20 bytes, read at once (the IPv4 header
    # with its addresses; for IPv6 its version), and mostly the 8 bytes after them too
    # (ESP's SPI and sequence number, UDP's header).
    head, following = None, None
    for size in (28, 20) if n else ():
        if f.has(l3, size, rows).all():
            head = f.raw(l3, size, rows)[0]
            if size == 28:
                following = head[:, 20:].copy().view(">u8")[:, 0]
            break
    if head is not None:
        version, ok, proto, l4, length, later, ttl, ident = _ipv4_from_head(head, l3)
        v4_addresses = head[:, 12:20].copy().view(">u8")[:, 0]   # (meaningful on IPv4 rows)
    else:
        version, ok, proto, l4, length, later, ttl, ident = _ipv4(f, rows, l3)
        v4_addresses = None
    addr = l3 + np.where(version == 4, 12, 8)

    v6 = np.flatnonzero(version == 6)
    if len(v6):
        r, p = rows[v6], l3[v6]
        good = f.has(p, 40, r)
        payload, _ = f.u16(p + 4, r)
        nh, _ = f.u8(p + 6, r)
        nh = np.where(good, nh, -1)
        hops, _ = f.u8(p + 7, r)
        ttl[v6] = np.where(good, hops, -1)
        pos = p + 40
        frag_later = np.zeros(len(v6), dtype=bool)
        for _ in range(MAX_EXTENSION_HEADERS):
            walking = among(nh, IPV6_EXTENSIONS)
            if not walking.any():
                break
            w = np.flatnonzero(walking)
            nxt, ok_nxt = f.u8(pos[w], r[w])
            hlen, ok_len = f.u8(pos[w] + 1, r[w])
            is_frag = nh[w] == FRAGMENT
            offset, _ = f.u16(pos[w] + 2, r[w])
            frag_later[w] |= is_frag & ((offset >> 3) != 0)
            step = np.where(is_frag, 8, (hlen + 1) * 8)
            # A chain cut off by the capture leaves the protocol unknown.
            nh[w] = np.where(ok_nxt & (ok_len | is_frag), nxt, -1)
            pos[w] = pos[w] + step
        still = among(nh, IPV6_EXTENSIONS)
        nh[still] = -1
        ok[v6] = good
        proto[v6] = nh
        l4[v6] = np.where(good & (nh >= 0), pos, -1)
        length[v6] = payload + 40
        later[v6] = frag_later

    version = np.where(ok, version, 0)
    return IpHeaders(ok=ok, version=version, proto=proto, l4=l4, length=length,
                     later_fragment=later, addr=addr, ttl=ttl, ident=ident, v4_addresses=v4_addresses,
                     following=following)


def _ipv4_from_head(head: np.ndarray, l3: np.ndarray):
    """``_ipv4`` from the headers' first 20 bytes read already (``head``, a row per header):
    every row computed alike and the non-IPv4 ones masked, without selecting the IPv4 rows."""
    b0 = head[:, 0].astype(np.int64)
    version = b0 >> 4
    is4 = version == 4
    ihl = (b0 & 0x0F) * 4
    ok = is4 & (ihl >= 20)
    words = head.view(">u2")            # 1: total length, 2: id, 3: fragment, 4: TTL and protocol
    ttl_proto = words[:, 4].astype(np.int64)
    return (version, ok, np.where(ok, ttl_proto & 0xFF, -1), np.where(ok, l3 + ihl, -1),
            np.where(is4, words[:, 1].astype(np.int64), 0), ok & ((words[:, 3] & 0x1FFF) != 0),
            np.where(ok, ttl_proto >> 8, -1), np.where(ok, words[:, 2].astype(np.int64), -1))


def _ipv4(f: Fields, rows: np.ndarray, l3: np.ndarray):
    """(version from the first byte (0: none), then for the IPv4 rows, -1/0/False elsewhere:
    ok, protocol, upper-layer offset, total length, later fragment, TTL, identification)."""
    n = len(rows)
    b0, present = f.u8(l3, rows)
    version = np.where(present, b0 >> 4, 0)
    ok = np.zeros(n, dtype=bool)
    proto = np.full(n, -1, dtype=np.int64)
    l4 = np.full(n, -1, dtype=np.int64)
    length = np.zeros(n, dtype=np.int64)
    later = np.zeros(n, dtype=bool)
    ttl = np.full(n, -1, dtype=np.int64)
    ident = np.full(n, -1, dtype=np.int64)
    v4 = np.flatnonzero(version == 4)
    if len(v4):
        r, p = rows[v4], l3[v4]
        ihl = (b0[v4] & 0x0F) * 4
        whole = f.has(p, 20, r)
        good = whole & (ihl >= 20)
        if whole.all():   # bytes 0-7 in one read (total length, fragment), then the protocol
            head = f.u64(p)
            total = ((head >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)
            idv = ((head >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.int64)
            frag = (head & np.uint64(0xFFFF)).astype(np.int64)
            ttl_proto = (f.u64(p + 8) >> np.uint64(48)).astype(np.int64)   # bytes 8 and 9
            hops, pr = ttl_proto >> 8, ttl_proto & 0xFF
        else:
            total, _ = f.u16(p + 2, r)
            idv, _ = f.u16(p + 4, r)
            frag, _ = f.u16(p + 6, r)
            pr, _ = f.u8(p + 9, r)
            hops, _ = f.u8(p + 8, r)
        ttl[v4] = np.where(good, hops, -1)
        ident[v4] = np.where(good, idv, -1)
        ok[v4] = good
        proto[v4] = np.where(good, pr, -1)
        l4[v4] = np.where(good, p + ihl, -1)
        length[v4] = total
        later[v4] = good & ((frag & 0x1FFF) != 0)
    return version, ok, proto, l4, length, later, ttl, ident


def address_strings(f: Fields, rows: np.ndarray, version: np.ndarray, pos: np.ndarray) -> pa.Array:
    """Text addresses at ``pos`` for the given rows (null where absent or cut off).

    Converts each distinct address once: captures hold few distinct addresses, so this
    costs a ``np.unique`` instead of one ``ipaddress`` call per packet.
    """
    n = len(rows)
    index = np.zeros(n, dtype=np.int64)
    valid = np.zeros(n, dtype=bool)
    names: list[str] = []

    v4 = np.flatnonzero(version == 4)
    if len(v4):
        value, ok = f.u32(pos[v4], rows[v4])
        inverse, uniq = pd.factorize(value)  # hashing: faster than np.unique's sort
        names.extend(str(ipaddress.IPv4Address(int(u))) for u in uniq)
        index[v4] = inverse
        valid[v4] = ok

    v6 = np.flatnonzero(version == 6)
    if len(v6):
        raw, ok = f.raw(pos[v6], 16, rows[v6])
        keys = np.ascontiguousarray(raw).view("V16").ravel()
        uniq, inverse = np.unique(keys, return_inverse=True)
        base = len(names)
        names.extend(str(ipaddress.IPv6Address(u.tobytes())) for u in uniq)
        index[v6] = base + inverse
        valid[v6] = ok

    if not names:
        return pa.nulls(n, type=pa.string())
    indices = pa.array(index, type=pa.int32(), mask=~valid)
    return pa.DictionaryArray.from_arrays(indices, pa.array(names, type=pa.string())).cast(pa.string())
