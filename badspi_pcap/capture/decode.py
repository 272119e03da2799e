"""From a batch of frames to rows of the ``packets`` table, all in bulk.

Keeps ESP, AH, ESP-in-UDP, IKE (UDP 500, and 4500 behind the non-ESP marker), NAT
keepalives, and ICMP/ICMPv6 errors with the packet they quote.  Everything else is
only counted.  Fields that a frame or a quote is too short to hold stay null and the
``note`` column says why.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .frames import Fields, FrameBatch, among
from .ip import parse_ip
from .linklayer import SUPPORTED, locate_ip
from .rows import Rows, rows_table

ESP, AH, UDP, TCP, ICMP, ICMPV6 = 50, 51, 17, 6, 1, 58
IKE_PORT, NATT_PORT = 500, 4500
ICMP_ERRORS = (3, 11, 12)       # destination unreachable, time exceeded, parameter problem
ICMPV6_ERRORS = (1, 2, 3, 4)    # destination unreachable, packet too big, time exceeded, parameter problem

KINDS = ["esp", "ah", "esp-in-udp", "ike", "nat-keepalive", "icmp-error"]
K_ESP, K_AH, K_ESPUDP, K_IKE, K_KEEPALIVE, K_ICMP = range(1, 7)

NOTES = [
    None,
    "frame ends before the ESP/AH sequence number",
    "frame ends before the IKE header is complete",
    "ESP-in-UDP payload too short for an ESP header",
    "quote ends inside the quoted IP header",
    "quote ends before the quoted SPI",
    "quote ends before the quoted sequence number",
    "quote ends before the quoted ports",
    "quoted packet is a later IP fragment (no upper-layer header)",
    "quoted IPv6 extension headers cut off",
    "not a valid ISAKMP version",
]
(N_NONE, N_SHORT_SEQ, N_SHORT_IKE, N_SHORT_ESPUDP, N_Q_IP, N_Q_SPI, N_Q_SEQ,
 N_Q_PORTS, N_Q_FRAG, N_Q_EXT, N_IKE_VERSION) = range(len(NOTES))

IKE_EXCHANGES = {
    1: {1: "BASE", 2: "MAIN_MODE", 3: "AUTH_ONLY", 4: "AGGRESSIVE", 5: "INFORMATIONAL",
        6: "TRANSACTION", 32: "QUICK_MODE", 33: "NEW_GROUP"},
    2: {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL",
        38: "IKE_SESSION_RESUME", 43: "IKE_INTERMEDIATE", 44: "IKE_FOLLOWUP_KE"},
}


@dataclass
class BatchCounts:
    """What a batch held besides the rows kept (for the capture summary)."""

    frames: int = 0
    ip_frames: int = 0
    later_fragments: int = 0
    unsupported_linktype: dict = field(default_factory=dict)
    truncated: int = 0  # captured length shorter than the wire length

    def add(self, other: "BatchCounts") -> None:
        self.frames += other.frames
        self.ip_frames += other.ip_frames
        self.later_fragments += other.later_fragments
        self.truncated += other.truncated
        for k, v in other.unsupported_linktype.items():
            self.unsupported_linktype[k] = self.unsupported_linktype.get(k, 0) + v


def decode_batch(batch: FrameBatch, capture: str) -> tuple[pa.Table, BatchCounts]:
    """The ``packets`` rows of one batch as an Arrow table, and the batch's counts."""
    rows, counts = decode_rows(batch)
    return packets_table(rows, capture), counts


def packets_table(rows: Rows, capture: str) -> pa.Table:
    """The ``packets`` table of decoded rows (of one batch or of a whole capture); the
    rows are used up."""
    return rows_table(rows, capture, KINDS, ["-"] + [str(n) for n in NOTES[1:]], _exchange_name)


def decode_rows(batch: FrameBatch) -> tuple[Rows, BatchCounts]:
    """The rows of the IPsec-relevant frames of a batch (NumPy arrays), and the counts."""
    n = len(batch)
    counts = BatchCounts(frames=n, truncated=int(np.count_nonzero(batch.caplen < batch.wirelen)))
    if n == 0:
        return Rows.empty(), counts
    lt = batch.linktype
    if not (int(lt[0]) in SUPPORTED and (lt == lt[0]).all()):  # usually one, supported
        unsupported = ~among(lt, SUPPORTED)
        if unsupported.any():
            lts, cnt = np.unique(lt[unsupported], return_counts=True)
            counts.unsupported_linktype = {int(a): int(b) for a, b in zip(lts, cnt)}

    f = Fields(batch)
    l3, version, vlan = locate_ip(batch, f)
    ip_rows = np.flatnonzero(version > 0)
    ip_l3 = l3[ip_rows]
    ip = parse_ip(f, ip_rows, ip_l3)
    counts.ip_frames = int(np.count_nonzero(ip.ok))
    counts.later_fragments = int(np.count_nonzero(ip.later_fragment))
    carries_l4 = ip.ok & ~ip.later_fragment & (ip.l4 >= 0)

    note = np.zeros(len(ip_rows), dtype=np.int64)
    proto = np.where(carries_l4, ip.proto, -1)
    kind = np.where(proto == ESP, K_ESP, np.where(proto == AH, K_AH, 0))

    # UDP: IKE on 500; on 4500 a NAT keepalive, IKE behind the non-ESP marker, or ESP.
    udp = np.flatnonzero(proto == UDP)
    udp_l4, udp_rows = ip.l4[udp], ip_rows[udp]   # (one rows array for all reads: Fields remembers its bounds)
    sport, ok_ports = f.u16(udp_l4, udp_rows)
    dport, _ = f.u16(udp_l4 + 2, udp_rows)
    udp_len, _ = f.u16(udp_l4 + 4, udp_rows)
    on_500 = ok_ports & ((sport == IKE_PORT) | (dport == IKE_PORT))
    on_4500 = ok_ports & ~on_500 & ((sport == NATT_PORT) | (dport == NATT_PORT))
    payload = udp_l4 + 8
    first, ok_first = f.u8(payload, udp_rows)
    marker, ok_marker = f.u32(payload, udp_rows)
    keepalive = on_4500 & (udp_len == 9) & ok_first & (first == 0xFF)
    ike_4500 = on_4500 & ~keepalive & ok_marker & (marker == 0) & (udp_len >= 12)
    esp_udp = on_4500 & ~keepalive & ~ike_4500
    kind[udp[on_500 | ike_4500]] = K_IKE
    kind[udp[keepalive]] = K_KEEPALIVE
    kind[udp[esp_udp]] = K_ESPUDP
    note[udp[esp_udp & (udp_len < 16)]] = N_SHORT_ESPUDP
    ike_at = np.full(len(ip_rows), -1, dtype=np.int64)
    ike_at[udp[on_500]] = payload[on_500]
    ike_at[udp[ike_4500]] = payload[ike_4500] + 4
    esp_at = np.where(kind == K_ESP, ip.l4, -1)
    esp_at[udp[esp_udp]] = payload[esp_udp]

    icmp = np.flatnonzero(((proto == ICMP) & (ip.version == 4)) | ((proto == ICMPV6) & (ip.version == 6)))
    icmp_type, ok_type = f.u8(ip.l4[icmp], ip_rows[icmp])
    v4 = ip.version[icmp] == 4
    is_error = ok_type & ((v4 & among(icmp_type, ICMP_ERRORS)) | (~v4 & among(icmp_type, ICMPV6_ERRORS)))
    kind[icmp[is_error]] = K_ICMP

    keep = np.flatnonzero(kind > 0)
    rows = ip_rows[keep]  # frame index in the batch of each kept row
    k = kind[keep]
    nt = note[keep]
    version = ip.version[keep]
    cols = Rows(frame=batch.frame[rows], time=batch.time_ns[rows], kind=(k - 1).astype(np.int8),
                ip_version=version.astype(np.uint8), vlan=vlan[rows].astype(np.int32),
                length=batch.wirelen[rows].astype(np.uint32), ip_length=ip.length[keep].astype(np.uint32),
                note=nt)
    _set_addresses(f, cols, ("src", "dst"), np.arange(len(rows)), rows, version, ip.addr[keep],
                   None if ip.v4_addresses is None else ip.v4_addresses[keep])
    everyone = np.arange(len(rows))
    cols.set("ip_ttl", everyone, ip.ttl[keep], ip.ttl[keep] >= 0)     # a loop lowers it on a copy
    cols.set("ip_id", everyone, ip.ident[keep], ip.ident[keep] >= 0)

    # Ports of the UDP rows.
    at = np.flatnonzero(among(k, (K_ESPUDP, K_IKE, K_KEEPALIVE)))
    udp_index = np.searchsorted(udp, keep[at])
    cols.set("sport", at, sport[udp_index])
    cols.set("dport", at, dport[udp_index])

    # ESP / AH / ESP-in-UDP: SPI and sequence number.
    spi_pos = np.where(k == K_AH, ip.l4[keep] + 4, esp_at[keep])
    at = np.flatnonzero(among(k, (K_ESP, K_AH, K_ESPUDP)))
    known = None
    if ip.following is not None:   # read with the IP header: the SPI right after an option-less IPv4 header
        known = ip.following[keep[at]], spi_pos[at] == ip_l3[keep[at]] + 20
    spi, ok_spi, seq, ok_seq = _two_words(f, spi_pos[at], rows[at], known)
    cols.set("spi", at, spi, ok_spi)
    cols.set("seq", at, seq, ok_seq)
    nt[at] = np.where(ok_seq | (nt[at] != N_NONE), nt[at], N_SHORT_SEQ)

    _decode_ike(f, cols, np.flatnonzero(k == K_IKE), ike_at[keep], rows, nt)
    _decode_icmp(f, cols, np.flatnonzero(k == K_ICMP), ip.l4[keep], version, rows, nt)
    cols.note = nt.astype(np.int8)
    return cols, counts


def _two_words(f: Fields, pos, rows, known=None):
    """(first, ok, second, ok): the 32-bit words at ``pos`` and ``pos + 4`` (an SPI and a
    sequence number), in one 8-byte read when every row holds both (the usual case).
    ``known``: (the 8 bytes as one big-endian number, for which rows) read already."""
    both = f.has(pos, 8, rows)
    if both.all():
        if known is None:
            pair = f.u64(pos)
        else:
            pair, have = known
            if not have.all():
                miss = np.flatnonzero(~have)
                pair = pair.copy()
                pair[miss] = f.u64(pos[miss])
        return (pair >> np.uint64(32)).astype(np.int64), both, (pair & np.uint64(0xFFFFFFFF)).astype(np.int64), both
    return (*f.u32(pos, rows), *f.u32(pos + 4, rows))


def _set_addresses(f: Fields, cols: Rows, names: tuple[str, str], at, rows, version, pos, v4_pairs=None) -> None:
    """Source and destination addresses (``pos``: the source's offset; the destination
    follows it) of rows ``at`` (frames ``rows``) by IP version; cut off ones stay null.
    ``v4_pairs``: the IPv4 addresses as read with the header (``IpHeaders.v4_addresses``)."""
    src, dst = names
    v4 = np.flatnonzero(version == 4)
    if len(v4):
        a = at[v4]
        if v4_pairs is not None:
            pair = v4_pairs[v4]
        else:
            p, r = pos[v4], rows[v4]
            pair = f.u64(p) if f.has(p, 8, r).all() else None   # the usual case: one 8-byte read gives both
        if pair is not None:
            cols.v4[src] = (a, (pair >> np.uint64(32)).astype(np.uint32))
            cols.v4[dst] = (a, pair.astype(np.uint32))
        else:
            for name, q in ((src, p), (dst, p + 4)):
                value, ok = f.u32(q, r)
                cols.v4[name] = (a[ok], value[ok].astype(np.uint32))
    v6 = np.flatnonzero(version == 6)
    if len(v6):
        r, a = rows[v6], at[v6]
        for name, q in ((src, pos[v6]), (dst, pos[v6] + 16)):
            raw, ok = f.raw(q, 16, r)
            cols.v6[name] = (a[ok], raw[ok])


def _decode_ike(f: Fields, cols: Rows, at, ike_pos, rows, nt) -> None:
    if not len(at):
        return
    pos, r = ike_pos[at], rows[at]
    complete = f.has(pos, 28, r)
    vbyte, ok_v = f.u8(pos + 17, r)
    exch, ok_x = f.u8(pos + 18, r)
    flags, ok_f = f.u8(pos + 19, r)
    msgid, ok_m = f.u32(pos + 20, r)
    major = vbyte >> 4
    cols.set("ike_version", at, major, ok_v)
    cols.exchange = (at[ok_x], (major * 256 + exch)[ok_x])
    cols.set("ike_msgid", at, msgid, ok_m)
    v2 = ok_f & (major == 2)
    cols.set("ike_initiator", at, (flags & 0x08) != 0, v2)
    cols.set("ike_response", at, (flags & 0x20) != 0, v2)
    for name, spi_pos in (("ike_ispi", pos), ("ike_rspi", pos + 8)):
        whole = f.has(spi_pos, 8, r)
        cols.spis[name] = (at[whole], f.raw(spi_pos[whole], 8, r[whole])[0])
    nt[at] = np.select([~complete, ok_v & ~among(major, (1, 2))], [N_SHORT_IKE, N_IKE_VERSION], nt[at])


def _decode_icmp(f: Fields, cols: Rows, at, l4, version, rows, nt) -> None:
    """ICMP error fields and the quoted packet."""
    if not len(at):
        return
    pos, r = l4[at], rows[at]
    typ, _ = f.u8(pos, r)
    code, _ = f.u8(pos + 1, r)
    cols.set("icmp_type", at, typ)
    cols.set("icmp_code", at, code)
    v4_mtu, ok4 = f.u16(pos + 6, r)
    v6_mtu, ok6 = f.u32(pos + 4, r)
    frag_needed = (version[at] == 4) & (typ == 3) & (code == 4) & ok4
    too_big = (version[at] == 6) & (typ == 2) & ok6
    cols.set("icmp_mtu", at, np.where(frag_needed, v4_mtu, v6_mtu), frag_needed | too_big)

    q = parse_ip(f, r, pos + 8)
    _set_addresses(f, cols, ("inner_src", "inner_dst"), at, r, q.version, q.addr, q.v4_addresses)
    cols.set("inner_proto", at, q.proto, q.ok & (q.proto >= 0))
    quoted_l4 = q.ok & ~q.later_fragment & (q.l4 >= 0)
    qend = f.end[r]
    cols.set("inner_bytes", at, np.maximum(qend - q.l4, 0), quoted_l4)
    qp = q.proto
    lp = q.l4

    # Ports of a quoted UDP/TCP header, and the SPI behind UDP 4500 when quoted.
    ported = quoted_l4 & among(qp, (UDP, TCP))
    s, ok_s = f.u16(lp, r)
    d, ok_d = f.u16(lp + 2, r)
    cols.set("inner_sport", at, s, ported & ok_s)
    cols.set("inner_dport", at, d, ported & ok_d)
    natt = ported & (qp == UDP) & ok_d & ((s == NATT_PORT) | (d == NATT_PORT)) & (s != IKE_PORT) & (d != IKE_PORT)
    marker, ok_marker = f.u32(lp + 8, r)
    natt_esp = natt & ~(ok_marker & (marker == 0))
    spi_pos = np.select([quoted_l4 & (qp == ESP), quoted_l4 & (qp == AH), natt_esp], [lp, lp + 4, lp + 8], -1)
    has_spi = spi_pos >= 0
    spi, ok_spi = f.u32(spi_pos, r)
    seq, ok_seq = f.u32(spi_pos + 4, r)
    cols.set("inner_spi", at, spi, has_spi & ok_spi)
    cols.set("inner_seq", at, seq, has_spi & ok_seq)

    nt[at] = np.select(
        [
            ~q.ok,
            q.ok & q.later_fragment,
            q.ok & (q.proto < 0),
            has_spi & ~ok_spi & (qp != UDP),
            has_spi & ok_spi & ~ok_seq,
            ported & ~(ok_s & ok_d),
            natt & ~ok_marker,
        ],
        [N_Q_IP, N_Q_FRAG, N_Q_EXT, N_Q_SPI, N_Q_SEQ, N_Q_PORTS, N_Q_SPI],
        nt[at],
    )


def _exchange_name(version: int, code: int) -> str:
    return (IKE_EXCHANGES.get(version, {}).get(code) or IKE_EXCHANGES[1].get(code)
            or IKE_EXCHANGES[2].get(code) or f"UNKNOWN({code})")
