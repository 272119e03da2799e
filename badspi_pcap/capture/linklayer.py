"""Link-layer headers: where the IP header starts in each frame, and the VLAN tag.

Handles Ethernet with 802.1Q / 802.1ad / QinQ tags, Linux cooked capture (SLL, SLL2),
raw IP, BSD loopback (null / loop) and PPP.  Other link types are reported by name.
"""
from __future__ import annotations

import numpy as np

from .frames import Fields, FrameBatch, among

# LINKTYPE_* values from https://www.tcpdump.org/linktypes.html
ETHERNET, NULL, PPP, RAW, RAW_OLD1, RAW_OLD2, PPP_HDLC, LOOP, SLL, IPV4, IPV6, SLL2 = (
    1, 0, 9, 101, 12, 14, 50, 108, 113, 228, 229, 276,
)
LINKTYPE_NAMES = {
    0: "NULL (BSD loopback)", 1: "Ethernet", 6: "IEEE 802.5 Token Ring", 9: "PPP", 10: "FDDI",
    12: "raw IP", 14: "raw IP", 50: "PPP in HDLC framing", 101: "raw IP", 104: "Cisco HDLC",
    105: "IEEE 802.11", 108: "OpenBSD loopback", 113: "Linux cooked (SLL)", 127: "IEEE 802.11 radiotap",
    192: "PPI", 228: "raw IPv4", 229: "raw IPv6", 276: "Linux cooked v2 (SLL2)",
}
SUPPORTED = {ETHERNET, NULL, PPP, RAW, RAW_OLD1, RAW_OLD2, PPP_HDLC, LOOP, SLL, IPV4, IPV6, SLL2}

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
MAX_VLAN_TAGS = 4  # bounded: a hostile frame cannot make us loop


def linktype_name(linktype: int) -> str:
    return LINKTYPE_NAMES.get(int(linktype), f"link type {int(linktype)}")


def locate_ip(batch: FrameBatch, f: Fields):
    """Per frame: offset of the IP header (absolute in batch.buf), IP version (4, 6 or 0
    when the frame carries no IP), and the outermost VLAN id (-1 when untagged)."""
    n = len(batch)
    l3 = np.full(n, -1, dtype=np.int64)
    vlan = np.full(n, -1, dtype=np.int64)
    ethertype = np.zeros(n, dtype=np.int64)
    lt = batch.linktype
    start = batch.start
    rows_of = _selector(lt)

    # Ethernet: type at 12; SLL: protocol at 14; SLL2: protocol at 0.
    for kind, type_at, header in ((ETHERNET, 12, 14), (SLL, 14, 16), (SLL2, 0, 20)):
        rows = rows_of((kind,))
        if _some(rows):
            etype, ok = f.u16(start[rows] + type_at, rows)
            l3[rows] = np.where(ok, start[rows] + header, -1)
            ethertype[rows] = etype
    _strip_vlan_tags(f, l3, ethertype, vlan)

    # Raw IP and the IPv4/IPv6-only link types: the version nibble decides.
    rows = rows_of((RAW, RAW_OLD1, RAW_OLD2, IPV4, IPV6))
    if _some(rows):
        b0, ok = f.u8(start[rows], rows)
        l3[rows] = np.where(ok, start[rows], -1)
        ethertype[rows] = np.select([b0 >> 4 == 4, b0 >> 4 == 6], [ETH_IPV4, ETH_IPV6], 0)

    # BSD loopback: a 4-byte address family in the capturing host's byte order (NULL)
    # or network order (LOOP).  AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30.
    rows = rows_of((NULL, LOOP))
    if _some(rows):
        fam_be, ok = f.u32(start[rows], rows)
        fam_le = ((fam_be & 0xFF) << 24) | ((fam_be & 0xFF00) << 8) | ((fam_be >> 8) & 0xFF00) | (fam_be >> 24)
        fam = np.where(fam_be < 256, fam_be, fam_le)
        l3[rows] = np.where(ok, start[rows] + 4, -1)
        ethertype[rows] = np.select([fam == 2, among(fam, (24, 28, 30))], [ETH_IPV4, ETH_IPV6], 0)

    # PPP: optional 0xff03 address/control, then a 2-byte protocol (0x21 IPv4, 0x57 IPv6).
    rows = rows_of((PPP, PPP_HDLC))
    if _some(rows):
        first, ok = f.u16(start[rows], rows)
        skip = np.where(first == 0xFF03, 2, 0)
        proto, ok = f.u16(start[rows] + skip, rows)
        l3[rows] = np.where(ok, start[rows] + skip + 2, -1)
        ethertype[rows] = np.select([proto == 0x0021, proto == 0x0057], [ETH_IPV4, ETH_IPV6], 0)

    version = np.where(l3 < 0, 0, np.where(ethertype == ETH_IPV4, 4, np.where(ethertype == ETH_IPV6, 6, 0)))
    return l3, version, vlan


EVERY = slice(None)


def _some(rows) -> bool:
    return rows is EVERY or len(rows) > 0


def _selector(lt: np.ndarray):
    """``rows_of(kinds)``: the frames of these link types (a capture usually has one):
    an index array, or ``EVERY`` (test with ``_some``: a slice has no length)."""
    uniform = len(lt) > 0 and bool((lt == lt[0]).all())
    every, none = EVERY, np.empty(0, dtype=np.int64)   # every row: a slice, so a view and no gather

    def rows_of(kinds):
        if uniform:
            return every if int(lt[0]) in kinds else none
        return np.flatnonzero(among(lt, kinds))
    return rows_of


def _strip_vlan_tags(f: Fields, l3, ethertype, vlan) -> None:
    """Skip 802.1Q/802.1ad tags in place, remembering the outermost VLAN id."""
    rows = np.flatnonzero(among(ethertype, VLAN_TPIDS) & (l3 >= 0))
    for _ in range(MAX_VLAN_TAGS):
        if not len(rows):
            return
        at = l3[rows]
        tag, ok = f.u32(at, rows)          # the tag and the type behind it, in one read
        if ok.all():
            tci, ok_tci, inner = tag >> 16, ok, tag & 0xFFFF
        else:
            tci, ok_tci = f.u16(at, rows)
            inner, ok = f.u16(at + 2, rows)
        outer = vlan[rows]
        vlan[rows] = np.where((outer < 0) & ok_tci, tci & 0x0FFF, outer)
        ethertype[rows] = np.where(ok, inner, 0)
        l3[rows] = np.where(ok, at + 4, -1)
        rows = rows[among(ethertype[rows], VLAN_TPIDS) & (l3[rows] >= 0)]
