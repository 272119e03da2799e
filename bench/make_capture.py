#!/usr/bin/env python3
"""Write a realistic synthetic IPsec sniffer capture, fast.

About seventy packet templates (Ethernet/VLAN + IP + ESP/AH/UDP/ISAKMP/ICMP headers) are
built once with ``struct``.  Per-packet fields (SPI sequence numbers, IP id and length,
UDP/inner lengths, IKE message ids, quoted sequence numbers, timestamps, checksums) are
drawn and stamped with NumPy into big chunk buffers; payload bytes come from a pool of
random bytes.  Scapy is not called at all, so a million packets take seconds.

The mix (by packet count, roughly; see ``templates()``):

* ~70 % ESP over IPv4: six tunnels, both directions, SPIs fixed per SA and sequence
  numbers increasing per SA; tunnel 0 is rekeyed half way (new SPIs, sequence from 1);
  a few packets with IPv4 options; a few fragmented ESP packets (the first fragment
  carries the ESP header, the non-first fragment is "proto 50" without one).
* ~5 % ESP over IPv6 (two tunnels).
* ~4 % NAT-T on UDP/4500: ESP-in-UDP, NAT keepalives (one 0xFF byte), IKEv2 behind the
  non-ESP marker (four zero bytes).
* ~2 % IKE on UDP/500: IKEv1 Main Mode (cleartext SA payload), Quick Mode and
  Informational (encrypted), IKEv2 IKE_SA_INIT (cleartext SA/KE/Nonce), IKE_AUTH,
  CREATE_CHILD_SA and INFORMATIONAL (SK payload); requests are followed by responses
  with the same message id; IKEv2 message ids count up per IKE SA.
* ~2 % AH (IPv4 tunnel mode with an inner IPv4/UDP packet, IPv6 transport mode/UDP).
* ~1.5 % ICMP destination unreachable (codes 0, 1, 13 and 4 = fragmentation needed with
  a next-hop MTU) from an upstream router, quoting the gateway's own outbound ESP (8, 64
  or 528 quoted bytes after the IP header; the quoted sequence number is the one the SA
  had just sent), ESP-in-UDP (UDP header only, or more) and AH (8 bytes: no sequence
  number); ~0.5 % ICMPv6 Packet Too Big / Destination Unreachable quoting IPv6 ESP.
* ~13 % other traffic: TCP/443 with TLS records (IPv4 and IPv6), TCP ACKs, UDP media,
  ICMP echo, ICMPv6 neighbour solicitation, ARP.
* About 10 % of the frames are 802.1Q tagged (whole flows, as a trunk port shows them),
  some QinQ (802.1ad 0x88a8 outer tag).  Frames shorter than 60 bytes are zero padded.

IPv4 header, ICMP, ICMPv6 and IKE UDP checksums are correct; TCP checksums and the UDP
checksums of variable-length IPv6 datagrams are not (Wireshark does not check those by
default).  ESP-in-UDP over IPv4 has checksum 0, as RFC 3948 recommends.

``--mix plain`` writes the same templates with the IPsec share cut to ~2 % (for the
memory check: a file of the same size with few rows to keep).

Usage:  python bench/make_capture.py --packets 1000000 --out /tmp/ipsec.pcap
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import struct
import sys
import time
from dataclasses import dataclass, field

import numpy as np

START_NS = 1_710_410_400 * 10**9          # 2024-03-14 10:00:00 UTC
RATE_PPS = 3500.0                           # mean packet rate of the synthetic link
CHUNK = 32768                               # packets per write buffer
POOL_BYTES = 96 << 20                       # random payload pool
SNAPLEN = 262144
LINKTYPE_ETHERNET = 1

MAC_GW = bytes.fromhex("0010dbff1001")      # the gateway (NetScreen OUI)
MAC_RTR = bytes.fromhex("001b54aabb01")     # its upstream router

LOCAL4 = "203.0.113.1"
ROUTER4 = "203.0.113.254"
FAR_ROUTER4 = "198.18.250.1"
LOCAL6 = "2001:db8:100::1"
ROUTER6 = "2001:db8:100::fffe"

# L3 length distributions: ("fixed", n) | ("uniform", lo, hi) | ("mix", ((p, lo, hi), ...))
ESP_SIZES = ("mix", ((0.50, 92, 200), (0.17, 200, 1300), (0.33, 1300, 1438)))
ESP6_SIZES = ("mix", ((0.50, 112, 220), (0.17, 220, 1300), (0.33, 1300, 1438)))
TLS_DOWN = ("mix", ((0.6, 1400, 1500), (0.4, 100, 600)))
TLS_UP = ("uniform", 60, 400)
TLS6_DOWN = ("mix", ((0.6, 1400, 1500), (0.4, 120, 600)))

#: kinds the reader is expected to return a row for (IPsec-relevant)
RELEVANT_KINDS = {
    "esp4", "esp4-options", "esp4-frag-first", "esp6", "esp-in-udp", "nat-keepalive",
    "ike-4500", "ikev1-500", "ikev2-500", "ah4", "ah6", "icmp4-error", "icmp6-error",
}


def a4(s: str) -> bytes:
    return ipaddress.IPv4Address(s).packed


def a6(s: str) -> bytes:
    return ipaddress.IPv6Address(s).packed


@dataclass
class Tpl:
    """One packet template: fixed header bytes plus what to stamp per packet.

    ``stamps`` (offsets relative to the L3 start until ``finish`` shifts them):
      ("be", off, width, source, sub)  big-endian value ``source[i] - sub``; sources:
                                       l3len ipid ipid2 seq aux aux2
      ("ip4csum", off, hlen)           IPv4 header checksum
      ("inet", start, csum_off, pseudo) Internet checksum of [start, end of L3);
                                       pseudo None | ("v4", ip_off, proto) | ("v6", ip_off, nh)
    """

    name: str
    kind: str
    weight: float
    l3: bytes
    stamps: list
    size: tuple
    out: bool = True                 # sent by the gateway (MAC order)
    ethertype: int = 0x0800
    vlan: tuple | None = None        # (vid,) 802.1Q or (svid, cvid) QinQ
    holes: list = field(default_factory=list)   # (off, len) in l3 left random per packet
    sa: str | None = None            # counter stamped as 'seq'
    counter: str = "pkt"             # pkt: +1 per packet; bytes: + payload bytes (TCP)
    seq_start: int | None = None
    quotes: str | None = None        # counter whose latest value is stamped as 'aux'
    aux2: tuple | None = None        # (lo, hi): quoted packet's IP length
    partner: str | None = None       # template of the packet that always follows
    msgid: str | None = None         # zero | one | random | count:<key>
    rekey_to: str | None = None      # template used instead from the rekey point on
    copy_ipid: bool = False          # partner shares the IP id (fragments)
    payload_off: int | None = None   # where the TCP payload starts (byte counters)
    ack_of: str | None = None        # TCP: counter of the reverse direction, stamped as 'aux'
    # filled by finish()
    hdr: np.ndarray | None = None
    write_idx: np.ndarray | None = None
    l2len: int = 0

    def finish(self):
        l2 = (MAC_RTR + MAC_GW) if self.out else (MAC_GW + MAC_RTR)
        vlan = self.vlan or ()
        if len(vlan) == 2:
            l2 += struct.pack("!HH", 0x88A8, vlan[0])
            vlan = vlan[1:]
        if vlan:
            l2 += struct.pack("!HH", 0x8100, vlan[0])
        l2 += struct.pack("!H", self.ethertype)
        self.l2len = len(l2)
        self.hdr = np.frombuffer(l2 + self.l3, dtype=np.uint8).copy()
        mask = np.ones(len(self.hdr), dtype=bool)
        for off, n in self.holes:
            mask[self.l2len + off:self.l2len + off + n] = False
        self.write_idx = np.flatnonzero(mask)
        lo = self.min_l3()
        if lo < len(self.l3):
            raise ValueError(f"{self.name}: sizes below the header length")
        shifted = []
        for s in self.stamps:
            if s[0] == "be":
                shifted.append(("be", s[1] + self.l2len, *s[2:]))
            elif s[0] == "ip4csum":
                shifted.append(("ip4csum", s[1] + self.l2len, s[2]))
            elif s[0] == "inet":
                if self.size[0] != "fixed":
                    raise ValueError(f"{self.name}: checksum needs a fixed size")
                pseudo = s[3]
                if pseudo is not None:
                    pseudo = (pseudo[0], pseudo[1] + self.l2len, pseudo[2])
                shifted.append(("inet", s[1] + self.l2len, s[2] + self.l2len, pseudo,
                                self.l2len + self.size[1]))
            else:
                raise ValueError(s[0])
        # value stamps first, checksums after (in the order listed: inner before outer)
        self.stamps = [s for s in shifted if s[0] == "be"] + [s for s in shifted if s[0] != "be"]

    def min_l3(self) -> int:
        d = self.size
        if d[0] == "fixed":
            return d[1]
        if d[0] == "uniform":
            return d[1]
        return min(lo for _, lo, _ in d[1])


# ------------------------------------------------------------------ header builders

def v4(src, dst, proto, *, ttl=64, df=True, opts=b"", frag=None, o=0, lensrc="l3len",
       lensub=0, idsrc="ipid", tos=0):
    ihl = 5 + len(opts) // 4
    ff = frag if frag is not None else (0x4000 if df else 0)
    b = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, 0, 0, ff, ttl, proto, 0, a4(src), a4(dst)) + opts
    st = [("be", o + 2, 2, lensrc, lensub), ("be", o + 4, 2, idsrc, 0), ("ip4csum", o, 4 * ihl)]
    return b, st


def v6(src, dst, nh, *, hlim=64, o=0, lensrc="l3len", lensub=40, flow=0):
    b = struct.pack("!IHBB16s16s", 0x60000000 | flow, 0, nh, hlim, a6(src), a6(dst))
    return b, [("be", o + 4, 2, lensrc, lensub)]


def udp(sport, dport, *, o, lensrc="l3len", lensub=None, csum=0):
    """UDP header at L3 offset o; its length is (source - lensub), default the rest of L3."""
    return struct.pack("!HHHH", sport, dport, 0, csum), [("be", o + 4, 2, lensrc, o if lensub is None else lensub)]


def isakmp(ispi, rspi, np_, ver, exch, flags, length):
    return struct.pack("!8s8sBBBBII", ispi, rspi, np_, ver, exch, flags, 0, length)


def ikev2_sa_init_body(rng, response):
    tr = (struct.pack("!BBHBBH", 3, 0, 12, 1, 0, 12) + struct.pack("!HH", 0x800E, 256)   # AES-CBC-256
          + struct.pack("!BBHBBH", 3, 0, 8, 2, 0, 5)      # PRF_HMAC_SHA2_256
          + struct.pack("!BBHBBH", 3, 0, 8, 3, 0, 12)     # AUTH_HMAC_SHA2_256_128
          + struct.pack("!BBHBBH", 0, 0, 8, 4, 0, 14))    # DH group 14
    prop = struct.pack("!BBHBBBB", 0, 0, 8 + len(tr), 1, 1, 0, 4) + tr
    sa = struct.pack("!BBH", 34, 0, 4 + len(prop)) + prop
    ke_off = len(sa) + 8
    ke = struct.pack("!BBHHH", 40, 0, 8 + 256, 14, 0) + bytes(256)
    nonce_off = len(sa) + len(ke) + 4
    nonce = struct.pack("!BBH", 0, 0, 4 + 32) + bytes(32)
    body = sa + ke + nonce
    holes = [(ke_off, 256), (nonce_off, 32)]   # key exchange data and nonce: random per packet
    return 33, body, holes


def ikev1_sa_body():
    attrs = struct.pack("!HHHHHHHHHHHHHH", 0x8001, 7, 0x800E, 256, 0x8002, 2, 0x8003, 1,
                        0x8004, 14, 0x800B, 1, 0x800C, 28800)
    trans = struct.pack("!BBHBBH", 0, 0, 8 + len(attrs), 1, 1, 0) + attrs
    prop = struct.pack("!BBHBBBB", 0, 0, 8 + len(trans), 1, 1, 0, 1) + trans
    sa = struct.pack("!BBHII", 0, 0, 12 + len(prop), 1, 1) + prop
    return 1, sa, []


def sk_body(first_np, enc_len):
    """IKEv2 Encrypted (SK) payload: header, then IV + ciphertext + ICV (random)."""
    return 46, struct.pack("!BBH", first_np, 0, 4 + enc_len), [], enc_len


# ------------------------------------------------------------------ the templates

def templates(rng: np.random.Generator, mix: str = "ipsec") -> list[Tpl]:
    T: list[Tpl] = []

    def spi():
        return int(rng.integers(0x00001000, 0xFFFFFFFF))

    def cookie():
        return rng.bytes(8)

    # --- ESP over IPv4: six tunnels ---------------------------------------------
    tunnels = [  # peer, weight, vlan
        ("198.51.100.10", 0.20, None), ("198.51.100.11", 0.15, None), ("198.51.100.12", 0.14, None),
        ("192.0.2.44", 0.07, (310,)), ("192.0.2.45", 0.08, None), ("198.51.100.77", 0.06, None),
    ]
    out_spi = {}

    def esp4(name, src, dst, s, sa, w, out, *, opts=b"", frag=None, size=ESP_SIZES, vlan=None,
             kind="esp4", **kw):
        ip, st = v4(src, dst, 50, opts=opts, frag=frag)
        h = len(ip)
        T.append(Tpl(name, kind, w, ip + struct.pack("!II", s, 0), st + [("be", h + 4, 4, "seq", 0)],
                     size, out=out, vlan=vlan, sa=sa, **kw))

    for k, (peer, w, vlan) in enumerate(tunnels):
        so, si = spi(), spi()
        out_spi[k] = so
        rekey = k == 0
        esp4(f"esp4-t{k}-out", LOCAL4, peer, so, f"t{k}-out", w * 0.52, True, vlan=vlan,
             rekey_to=f"esp4-t{k}-out-rekeyed" if rekey else None)
        esp4(f"esp4-t{k}-in", peer, LOCAL4, si, f"t{k}-in", w * 0.48, False, vlan=vlan,
             rekey_to=f"esp4-t{k}-in-rekeyed" if rekey else None)
        if rekey:
            out_spi["rekeyed"] = spi()
            esp4(f"esp4-t{k}-out-rekeyed", LOCAL4, peer, out_spi["rekeyed"], f"t{k}-out-b", 0.0, True,
                 vlan=vlan, seq_start=1)
            esp4(f"esp4-t{k}-in-rekeyed", peer, LOCAL4, spi(), f"t{k}-in-b", 0.0, False, vlan=vlan, seq_start=1)
    # IPv4 options (router alert) on tunnel 2, and fragmented ESP on tunnel 4
    esp4("esp4-t2-out-options", LOCAL4, tunnels[2][0], out_spi[2], "t2-out", 0.002, True,
         opts=bytes.fromhex("94040000"), kind="esp4-options")
    esp4("esp4-t4-out-frag1", LOCAL4, tunnels[4][0], out_spi[4], "t4-out", 0.001, True,
         frag=0x2000, size=("fixed", 1500), kind="esp4-frag-first", partner="ip4-t4-out-frag2")
    ip, st = v4(LOCAL4, tunnels[4][0], 50, frag=1480 // 8)
    T.append(Tpl("ip4-t4-out-frag2", "ip4-frag-nonfirst", 0.0, ip, st, ("uniform", 40, 140),
                 copy_ipid=True))

    # --- ESP over IPv6 -----------------------------------------------------------
    v6_tunnels = [("2001:db8:200::10", 0.03, None), ("2001:db8:300::20", 0.02, (320,))]
    out6_spi = {}
    for k, (peer, w, vlan) in enumerate(v6_tunnels):
        for out in (True, False):
            s = spi()
            src, dst = (LOCAL6, peer) if out else (peer, LOCAL6)
            d = "out" if out else "in"
            if out:
                out6_spi[k] = s
            ip, st = v6(src, dst, 50, flow=0x12345 + k)
            T.append(Tpl(f"esp6-t{k}-{d}", "esp6", w / 2, ip + struct.pack("!II", s, 0),
                         st + [("be", 44, 4, "seq", 0)], ESP6_SIZES, out=out, ethertype=0x86DD,
                         vlan=vlan, sa=f"v6t{k}-{d}"))

    # --- NAT-T on UDP/4500 ---------------------------------------------------------
    natt = [  # peer (public, after NAT), peer port, weight, vlan
        ("198.51.100.200", 62514, 0.020, None), ("192.0.2.99", 4500, 0.014, (2000, 340)),
    ]
    nat_spi = {}
    for k, (peer, pport, w, vlan) in enumerate(natt):
        for out in (True, False):
            s = spi()
            src, dst = (LOCAL4, peer) if out else (peer, LOCAL4)
            sp, dp = (4500, pport) if out else (pport, 4500)
            d = "out" if out else "in"
            if out:
                nat_spi[k] = s
            ip, st = v4(src, dst, 17)
            u, ust = udp(sp, dp, o=20)
            T.append(Tpl(f"espudp-t{k}-{d}", "esp-in-udp", w / 2, ip + u + struct.pack("!II", s, 0),
                         st + ust + [("be", 32, 4, "seq", 0)], ESP_SIZES, out=out, vlan=vlan,
                         sa=f"nat{k}-{d}"))
        for out, kw in ((False, 0.0025), (True, 0.0015)):
            src, dst = (LOCAL4, peer) if out else (peer, LOCAL4)
            sp, dp = (4500, pport) if out else (pport, 4500)
            ip, st = v4(src, dst, 17)
            u, ust = udp(sp, dp, o=20)
            T.append(Tpl(f"natka-t{k}-{'out' if out else 'in'}", "nat-keepalive", kw / 2, ip + u + b"\xff",
                         st + ust, ("fixed", 29), out=out, vlan=vlan))

    # --- IKE ---------------------------------------------------------------------
    def ike(name, kind, w, src, dst, sport, dport, out, ispi, rspi, ver, exch, flags, body,
            vlan=None, marker=False, **kw):
        np_, payload, holes, *rand = body
        rand = rand[0] if rand else 0
        mlen = 28 + len(payload) + rand
        ip, st = v4(src, dst, 17, df=False)
        pre = b"\0\0\0\0" if marker else b""
        u, ust = udp(sport, dport, o=20)
        io = 28 + len(pre)               # ISAKMP header offset in L3
        l3 = ip + u + pre + isakmp(ispi, rspi, np_, ver, exch, flags, mlen) + payload
        total = len(l3) + rand
        holes = [(io + 28 + off, n) for off, n in holes]
        st = st + ust + [("be", io + 20, 4, "aux", 0), ("inet", 20, 26, ("v4", 0, 17))]
        T.append(Tpl(name, kind, w, l3, st, ("fixed", total), out=out, vlan=vlan, holes=holes, **kw))

    def exchange(tag, kind, w, local, peer, lport, pport, we_initiate, ispi, rspi, ver, exch,
                 req_body, resp_body, msgid, resp_msgid=None, marker=False, vlan=None, init_resp_rspi=None):
        # the original initiator sends the requests: IKEv2 flags I (0x08) / R (0x20);
        # IKEv1 sets the encryption flag after Main Mode
        req_out = we_initiate
        if ver == 0x20:
            f_req, f_resp = 0x08, 0x20
        else:
            f_req = f_resp = 0x01 if exch in (5, 32) else 0x00
        req_rspi = bytes(8) if init_resp_rspi else rspi
        src, dst = (local, peer) if req_out else (peer, local)
        sp, dp = (lport, pport) if req_out else (pport, lport)
        ike(f"{tag}-req", kind, w, src, dst, sp, dp, req_out, ispi, req_rspi, ver, exch, f_req,
            req_body, vlan=vlan, marker=marker, partner=f"{tag}-resp", msgid=msgid)
        ike(f"{tag}-resp", kind, 0.0, dst, src, dp, sp, not req_out, ispi, rspi, ver, exch, f_resp,
            resp_body, vlan=vlan, marker=marker, msgid=resp_msgid)

    # IKEv1 with tunnel 5's peer: Main Mode 1/2 (clear SA payload), Quick Mode, DPD
    p5 = tunnels[5][0]
    ci, cr = cookie(), cookie()
    exchange("ikev1-mm", "ikev1-500", 0.0015, LOCAL4, p5, 500, 500, True, ci, cr, 0x10, 2,
             ikev1_sa_body(), ikev1_sa_body(), "zero", init_resp_rspi=True)
    exchange("ikev1-qm", "ikev1-500", 0.0020, LOCAL4, p5, 500, 500, True, ci, cr, 0x10, 32,
             (8, b"", [], 160), (8, b"", [], 160), "random")
    exchange("ikev1-info", "ikev1-500", 0.0015, LOCAL4, p5, 500, 500, False, ci, cr, 0x10, 5,
             (8, b"", [], 60), (8, b"", [], 60), "random", resp_msgid="random")
    # IKEv2 with tunnels 0 and 1 on UDP/500, and with NAT-T tunnel 0 on UDP/4500
    for k, we_init in ((0, True), (1, False)):
        peer = tunnels[k][0]
        ispi, rspi = cookie(), cookie()
        w = 0.0025 if k == 0 else 0.0025
        exchange(f"ikev2-t{k}-init", "ikev2-500", w * 0.1, LOCAL4, peer, 500, 500, we_init, ispi, rspi,
                 0x20, 34, ikev2_sa_init_body(rng, False), ikev2_sa_init_body(rng, True), "zero",
                 init_resp_rspi=True)
        exchange(f"ikev2-t{k}-auth", "ikev2-500", w * 0.1, LOCAL4, peer, 500, 500, we_init, ispi, rspi,
                 0x20, 35, sk_body(35, 320), sk_body(36, 272), "one")
        exchange(f"ikev2-t{k}-ccsa", "ikev2-500", w * 0.3, LOCAL4, peer, 500, 500, we_init, ispi, rspi,
                 0x20, 36, sk_body(33, 368), sk_body(33, 336), f"count:ike2-t{k}")
        exchange(f"ikev2-t{k}-info", "ikev2-500", w * 0.5, LOCAL4, peer, 500, 500, we_init, ispi, rspi,
                 0x20, 37, sk_body(0, 48), sk_body(0, 48), f"count:ike2-t{k}")
    peer, pport = natt[0][0], natt[0][1]
    ispi, rspi = cookie(), cookie()
    exchange("ikev2-nat0-info", "ike-4500", 0.0012, LOCAL4, peer, 4500, pport, True, ispi, rspi, 0x20, 37,
             sk_body(0, 48), sk_body(0, 48), "count:ike2-nat0", marker=True)
    exchange("ikev2-nat0-ccsa", "ike-4500", 0.0008, LOCAL4, peer, 4500, pport, True, ispi, rspi, 0x20, 36,
             sk_body(33, 368), sk_body(33, 336), "count:ike2-nat0", marker=True)

    # --- AH ------------------------------------------------------------------------
    ah_peer, ah_peer6 = "192.0.2.33", "2001:db8:400::33"
    for out in (True, False):
        d = "out" if out else "in"
        src, dst = (LOCAL4, ah_peer) if out else (ah_peer, LOCAL4)
        isrc, idst = ("10.1.0.5", "10.2.0.7") if out else ("10.2.0.7", "10.1.0.5")
        s = spi()
        if out:
            ah_out_spi = s
        ip, st = v4(src, dst, 51)
        ah = struct.pack("!BBHII", 4, 4, 0, s, 0) + bytes(12)           # tunnel mode, ICV 96 bits
        inner, ist = v4(isrc, idst, 17, o=44, lensub=44, idsrc="ipid2")
        u, ust = udp(41000, 41000, o=64)
        rtp = struct.pack("!BBHII", 0x80, 111, 0, 0, 0x5EED0004)         # RTP inside (random bytes
        ust = ust + [("be", 74, 2, "seq", 0)]                             # trip UDP heuristics)
        T.append(Tpl(f"ah4-{d}", "ah4", 0.006, ip + ah + inner + u + rtp,
                     st + [("be", 28, 4, "seq", 0)] + ist + ust, ("uniform", 120, 1400),
                     out=out, vlan=(2000, 330), holes=[(32, 12)], sa=f"ah4-{d}"))
        src, dst = (LOCAL6, ah_peer6) if out else (ah_peer6, LOCAL6)
        ip, st = v6(src, dst, 51)
        ah = struct.pack("!BBHII", 17, 4, 0, spi(), 0) + bytes(12)
        u, ust = udp(41001, 41001, o=64, csum=0x4D2B)    # IPv6 UDP checksum must not be 0 (not checked)
        rtp = struct.pack("!BBHII", 0x80, 111, 0, 0, 0x5EED0006)
        T.append(Tpl(f"ah6-{d}", "ah6", 0.004, ip + ah + u + rtp, st + [("be", 48, 4, "seq", 0)] + ust,
                     ("uniform", 120, 1400), out=out, ethertype=0x86DD, holes=[(52, 12)], sa=f"ah6-{d}"))

    # --- ICMP errors quoting the gateway's own IPsec packets ------------------------
    def icmp4(name, w, router, code, mtu, peer, inner_proto, inner_hdr, inner_st, quote, quotes, aux2,
              vlan=None, **kw):
        ip, st = v4(router, LOCAL4, 1, df=False, ttl=254)
        icmp = struct.pack("!BBHHH", 3, code, 0, 0, mtu)
        inner, ist = v4(LOCAL4, peer, inner_proto, ttl=63, o=28, lensrc="aux2", idsrc="ipid2")
        l3 = ip + icmp + inner + inner_hdr
        total = 48 + quote
        stamps = st + ist[:2] + inner_st + [ist[2], ("inet", 20, 22, None)]
        T.append(Tpl(name, "icmp4-error", w, l3, stamps, ("fixed", total), out=False, vlan=vlan,
                     quotes=quotes, aux2=aux2, **kw))

    def esp_quote(s):
        return struct.pack("!II", s, 0), [("be", 52, 4, "aux", 0)]

    t0 = tunnels[0][0]
    for rk in (False, True):
        sfx = "-rekeyed" if rk else ""
        so = out_spi["rekeyed"] if rk else out_spi[0]
        sa = "t0-out" if not rk else "t0-out-b"
        w = 0.0 if rk else 1.0
        h, hs = esp_quote(so)
        icmp4(f"icmp4-fragneeded-t0{sfx}", 0.004 * w, ROUTER4, 4, 1400, t0, 50, h, hs, 528, sa, (1401, 1438),
              rekey_to=None if rk else "icmp4-fragneeded-t0-rekeyed")
        icmp4(f"icmp4-netunreach-t0{sfx}", 0.002 * w, FAR_ROUTER4, 0, 0, t0, 50, h, hs, 8, sa, (92, 1438),
              rekey_to=None if rk else "icmp4-netunreach-t0-rekeyed")
    h, hs = esp_quote(out_spi[1])
    icmp4("icmp4-hostunreach-t1", 0.003, ROUTER4, 1, 0, tunnels[1][0], 50, h, hs, 8, "t1-out", (92, 1438))
    h, hs = esp_quote(out_spi[3])
    icmp4("icmp4-adminprohib-t3", 0.002, ROUTER4, 13, 0, tunnels[3][0], 50, h, hs, 64, "t3-out", (120, 1438),
          vlan=(310,))
    peer, pport = natt[0][0], natt[0][1]
    u = struct.pack("!HHHH", 4500, pport, 0, 0)
    ust = [("be", 52, 2, "aux2", 20)]
    icmp4("icmp4-hostunreach-nat0-8", 0.001, ROUTER4, 1, 0, peer, 17, u, ust, 8, "nat0-out", (100, 1438))
    icmp4("icmp4-hostunreach-nat0-64", 0.001, ROUTER4, 1, 0, peer, 17, u + struct.pack("!II", nat_spi[0], 0),
          ust + [("be", 60, 4, "aux", 0)], 64, "nat0-out", (100, 1438))
    ahq = struct.pack("!BBHI", 4, 4, 0, ah_out_spi)
    icmp4("icmp4-fragneeded-ah4-8", 0.0005, ROUTER4, 4, 1380, ah_peer, 51, ahq, [], 8, None, (1381, 1400),
          vlan=(2000, 330))

    def icmp6(name, w, typ, code, mtu, peer, s, quote, sa, aux2, vlan=None):
        ip, st = v6(ROUTER6, LOCAL6, 58)
        icmp = struct.pack("!BBHI", typ, code, 0, mtu)
        inner, ist = v6(LOCAL6, peer, 50, hlim=63, o=48, lensrc="aux2", lensub=40)
        l3 = ip + icmp + inner + struct.pack("!II", s, 0)
        stamps = st + ist + [("be", 92, 4, "aux", 0), ("inet", 40, 42, ("v6", 0, 58))]
        T.append(Tpl(name, "icmp6-error", w, l3, stamps, ("fixed", 88 + quote), out=False,
                     ethertype=0x86DD, vlan=vlan, quotes=sa, aux2=aux2))

    icmp6("icmp6-toobig-v6t0", 0.002, 2, 0, 1280, v6_tunnels[0][0], out6_spi[0], 1232 - 40, "v6t0-out", (1281, 1438))
    icmp6("icmp6-addrunreach-v6t0", 0.002, 1, 3, 0, v6_tunnels[0][0], out6_spi[0], 96, "v6t0-out", (140, 1438))
    icmp6("icmp6-adminprohib-v6t1", 0.001, 1, 1, 0, v6_tunnels[1][0], out6_spi[1], 8, "v6t1-out", (112, 1438),
          vlan=(320,))

    # --- other traffic ---------------------------------------------------------------
    def tcp_tls(name, kind, w, src, dst, sp, dp, size, out, reverse, ipv6=False, vlan=None):
        ip, st = (v6(src, dst, 6) if ipv6 else v4(src, dst, 6))
        h = len(ip)
        tcp = struct.pack("!HHIIBBHHH", sp, dp, 0, 0, 0x50, 0x18, 501, 0xBEEF, 0)
        tls = struct.pack("!BHH", 0x17, 0x0303, 0)
        ack = [("be", h + 8, 4, "aux", 0)] if reverse else []
        T.append(Tpl(name, kind, w, ip + tcp + tls,
                     st + [("be", h + 4, 4, "seq", 0), ("be", h + 23, 2, "l3len", h + 25)] + ack, size,
                     out=out, ethertype=0x86DD if ipv6 else 0x0800, vlan=vlan,
                     sa=f"tcp-{name}", counter="bytes", payload_off=h + 20,
                     ack_of=f"tcp-{reverse}" if reverse else None))

    tcp_tls("tcp4-tls-down", "tcp4", 0.050, "198.18.7.80", "203.0.113.20", 443, 51234, TLS_DOWN, False,
            "tcp4-tls-up")
    tcp_tls("tcp4-tls-up", "tcp4", 0.020, "203.0.113.20", "198.18.7.80", 51234, 443, TLS_UP, True,
            "tcp4-tls-down")
    tcp_tls("tcp6-tls-down", "tcp6", 0.008, "2001:db8:ffff::443", "2001:db8:100::20", 443, 50123, TLS6_DOWN, False,
            None, ipv6=True)
    ip, st = v4("203.0.113.21", "198.18.7.81", 6)
    tcp = struct.pack("!HHIIBBHHH", 51300, 443, 0, 0x11110000, 0x50, 0x10, 501, 0xBEEF, 0)
    T.append(Tpl("tcp4-ack", "tcp4", 0.030, ip + tcp, st, ("fixed", 40), out=True))
    ip, st = v4("203.0.113.50", "198.18.5.5", 17)
    u, ust = udp(40000, 50000, o=20)
    rtp = struct.pack("!BBHII", 0x80, 111, 0, 0, 0x5EED1234)    # RTP, dynamic payload type
    T.append(Tpl("udp4-media", "udp4", 0.015, ip + u + rtp,
                 st + ust + [("be", 30, 2, "seq", 0), ("be", 32, 4, "seq", 0)], ("uniform", 60, 1300),
                 out=True, sa="rtp"))
    for name, typ, src, dst, out in (("icmp4-echo-req", 8, "203.0.113.20", "198.18.0.53", True),
                                     ("icmp4-echo-rep", 0, "198.18.0.53", "203.0.113.20", False)):
        ip, st = v4(src, dst, 1)
        icmp = struct.pack("!BBHHH", typ, 0, 0, 0x1234, 0)
        T.append(Tpl(name, "icmp-echo", 0.002, ip + icmp,
                     st + [("be", 26, 2, "seq", 0), ("inet", 20, 22, None)], ("fixed", 84), out=out, sa=name))
    ip, st = v6("fe80::210:dbff:feff:1001", "ff02::1:ff00:fffe", 58, hlim=255)
    ns = struct.pack("!BBHI16sBB6s", 135, 0, 0, 0, a6(ROUTER6), 1, 1, MAC_GW)
    T.append(Tpl("icmp6-ns", "icmp6-nd", 0.001, ip + ns, st + [("inet", 40, 42, ("v6", 0, 58))],
                 ("fixed", 72), out=True, ethertype=0x86DD))
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_GW, a4(LOCAL4), bytes(6), a4(ROUTER4))
    T.append(Tpl("arp-request", "arp", 0.002, arp, [], ("fixed", 28), out=True, ethertype=0x0806))

    if mix == "plain":
        ipsec = sum(t.weight for t in T if t.kind in RELEVANT_KINDS)
        plain = sum(t.weight for t in T if t.kind not in RELEVANT_KINDS)
        for t in T:
            t.weight *= (0.02 / ipsec) if t.kind in RELEVANT_KINDS else (0.98 / plain)
    elif mix != "ipsec":
        raise ValueError(f"unknown mix {mix!r}")
    for t in T:
        t.finish()
    names = [t.name for t in T]
    if len(set(names)) != len(names):
        raise ValueError("duplicate template names")
    return T


# ------------------------------------------------------------------ per-packet plan

def _draw_sizes(rng, dist, n):
    if dist[0] == "fixed":
        return np.full(n, dist[1], dtype=np.int32)
    if dist[0] == "uniform":
        return rng.integers(dist[1], dist[2] + 1, size=n, dtype=np.int32)
    parts = dist[1]
    p = np.array([q for q, _, _ in parts])
    which = rng.choice(len(parts), size=n, p=p / p.sum())
    lo = np.array([a for _, a, _ in parts])[which]
    hi = np.array([b for _, _, b in parts])[which]
    return (lo + (rng.random(n) * (hi - lo + 1)).astype(np.int32)).astype(np.int32)


def plan(T: list[Tpl], n: int, rng: np.random.Generator) -> dict:
    """Per-packet arrays: template, L3 length, timestamps and the stamped values."""
    idx = {t.name: i for i, t in enumerate(T)}
    w = np.array([t.weight for t in T])
    tpl = rng.choice(len(T), size=n, p=w / w.sum()).astype(np.int16)

    # pairs: a request is followed by its response, a first fragment by the next one
    partner = np.array([idx[t.partner] if t.partner else -1 for t in T])
    fallback = idx["tcp4-ack"]
    starts = []
    last = -2
    for i in np.flatnonzero(partner[tpl] >= 0).tolist():
        if i == last + 1:
            continue                     # already overwritten as the previous pair's second packet
        if i + 1 >= n:
            tpl[i] = fallback
            continue
        tpl[i + 1] = partner[tpl[i]]
        starts.append(i)
        last = i
    starts = np.array(starts, dtype=np.int64)

    # rekey half way
    rekey_at = n // 2
    for i, t in enumerate(T):
        if t.rekey_to:
            m = tpl[rekey_at:] == i
            tpl[rekey_at:][m] = idx[t.rekey_to]

    nt = len(T)
    order = np.argsort(tpl, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(tpl, minlength=nt))])
    pos = [order[bounds[i]:bounds[i + 1]] for i in range(nt)]

    l3len = np.empty(n, dtype=np.int32)
    aux2 = np.zeros(n, dtype=np.int64)
    for i, t in enumerate(T):
        if len(pos[i]):
            l3len[pos[i]] = _draw_sizes(rng, t.size, len(pos[i]))
            if t.aux2:
                aux2[pos[i]] = rng.integers(t.aux2[0], t.aux2[1] + 1, size=len(pos[i]))

    gaps = rng.exponential(1e9 / RATE_PPS, size=n).astype(np.int64)
    ts = START_NS + np.cumsum(gaps)
    ipid = rng.integers(0, 65536, size=n, dtype=np.int64)
    ipid2 = rng.integers(0, 65536, size=n, dtype=np.int64)

    # counters: ESP/AH sequence numbers per SA, TCP byte sequence per flow direction
    keys = sorted({t.sa for t in T if t.sa})
    kidx = {k: j for j, k in enumerate(keys)}
    starts_of = {}
    for t in T:
        if t.sa and t.sa not in starts_of:
            starts_of[t.sa] = t.seq_start if t.seq_start is not None else int(rng.integers(1000, 3_000_000))
    tpl_key = np.array([kidx[t.sa] if t.sa else -1 for t in T])
    pkt_key = tpl_key[tpl]
    seq = np.zeros(n, dtype=np.int64)
    payoff = np.array([t.payload_off if t.payload_off is not None else len(t.l3) for t in T])
    korder = np.argsort(pkt_key, kind="stable")
    kb = np.concatenate([[0], np.cumsum(np.bincount(pkt_key + 1, minlength=len(keys) + 1))])
    key_pos = {}
    for k, j in kidx.items():
        p = korder[kb[j + 1]:kb[j + 2]]
        key_pos[k] = p
        kind = next(t.counter for t in T if t.sa == k)
        if kind == "pkt":
            seq[p] = starts_of[k] + np.arange(len(p))
        else:
            pay = (l3len[p] - payoff[tpl[p]]).astype(np.int64)
            seq[p] = (starts_of[k] + np.concatenate([[0], np.cumsum(pay)[:-1]])) & 0xFFFFFFFF

    # aux: the quoted sequence number (ICMP errors) or the IKE message id
    aux = np.zeros(n, dtype=np.int64)
    for i, t in enumerate(T):
        if t.quotes and len(pos[i]):
            p = key_pos.get(t.quotes, np.empty(0, dtype=np.int64))
            k = np.searchsorted(p, pos[i])
            prev = np.where(k > 0, seq[p[np.maximum(k - 1, 0)]] if len(p) else 0, starts_of[t.quotes])
            aux[pos[i]] = prev
    for i, t in enumerate(T):
        if t.ack_of and len(pos[i]):
            p = key_pos[t.ack_of]
            k = np.searchsorted(p, pos[i])
            prev = p[np.maximum(k - 1, 0)]
            nxt = (seq[prev] + l3len[prev] - payoff[tpl[prev]]) & 0xFFFFFFFF
            aux[pos[i]] = np.where(k > 0, nxt, starts_of[t.ack_of])
    if len(starts):
        st_t = tpl[starts]
        mid = np.zeros(len(starts), dtype=np.int64)
        modes = np.array([T[i].msgid or "" for i in range(nt)], dtype=object)[st_t]
        mid[modes == "one"] = 1
        r = modes == "random"
        mid[r] = rng.integers(1, 2**32, size=int(r.sum()))
        for mode in sorted(set(modes.tolist())):
            if mode.startswith("count:"):
                m = modes == mode
                mid[m] = 2 + np.arange(int(m.sum()))
        aux[starts] = mid
        aux[starts + 1] = mid
        second = tpl[starts + 1]
        r2 = np.array([T[i].msgid == "random" for i in range(nt)])[second]
        aux[starts[r2] + 1] = rng.integers(1, 2**32, size=int(r2.sum()))
        cp = np.array([T[i].copy_ipid for i in range(nt)])[second]
        ipid[starts[cp] + 1] = ipid[starts[cp]]

    return dict(tpl=tpl, l3len=l3len, ts=ts, ipid=ipid, ipid2=ipid2, seq=seq, aux=aux, aux2=aux2,
                rekey_at=rekey_at)


# ------------------------------------------------------------------ writing

def _put_be(buf, pos, vals, width):
    v = vals.astype(np.uint64)
    for k in range(width):
        buf[pos + k] = ((v >> np.uint64(8 * (width - 1 - k))) & np.uint64(0xFF)).astype(np.uint8)


def _sum16(mat):
    if mat.shape[1] % 2:
        mat = np.concatenate([mat, np.zeros((mat.shape[0], 1), np.uint8)], axis=1)
    w = (mat[:, 0::2].astype(np.uint64) << np.uint64(8)) | mat[:, 1::2]
    return w.sum(axis=1, dtype=np.uint64)


def _fold(s):
    for _ in range(3):
        s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    return (~s) & np.uint64(0xFFFF)


def _gather(buf, pos, start, end):
    return buf[pos[:, None] + np.arange(start, end)]


def file_header(fmt: str, ns: bool) -> bytes:
    if fmt == "pcap":
        magic = 0xA1B23C4D if ns else 0xA1B2C3D4
        return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    opts = struct.pack("<HH", 2, 4) + b"eth0" + struct.pack("<HHB3x", 9, 1, 9 if ns else 6) + struct.pack("<HH", 0, 0)
    blen = 20 + len(opts)
    idb = struct.pack("<IIHHI", 1, blen, LINKTYPE_ETHERNET, 0, SNAPLEN) + opts + struct.pack("<I", blen)
    return shb + idb


def write(path: str, T: list[Tpl], P: dict, fmt: str, ns: bool, rng: np.random.Generator) -> int:
    pool = np.frombuffer(rng.bytes(POOL_BYTES), dtype=np.uint8)
    nt = len(T)
    l2len = np.array([t.l2len for t in T], dtype=np.int64)
    tpl, l3len, ts = P["tpl"], P["l3len"], P["ts"]
    n = len(tpl)
    total_bytes = 0
    tmp = path + ".part"
    with open(tmp, "wb", buffering=0) as f:
        h = file_header(fmt, ns)
        f.write(h)
        total_bytes += len(h)
        for ci, lo in enumerate(range(0, n, CHUNK)):
            hi = min(n, lo + CHUNK)
            m = hi - lo
            t = tpl[lo:hi].astype(np.int64)
            real = l2len[t] + l3len[lo:hi]
            fl = np.maximum(real, 60)
            if fmt == "pcap":
                rh = 16
                rec = rh + fl
            else:
                rh = 28
                padded = (fl + 3) & ~3
                rec = rh + padded + 4
            off = np.zeros(m, dtype=np.int64)
            np.cumsum(rec[:-1], out=off[1:])
            size = int(off[-1] + rec[-1])
            start = (ci * 12_582_917) % (len(pool) - size)
            buf = pool[start:start + size].copy()

            tsc = ts[lo:hi]
            if fmt == "pcap":
                H = np.empty((m, 4), dtype="<u4")
                H[:, 0] = tsc // 10**9
                H[:, 1] = (tsc % 10**9) if ns else (tsc % 10**9) // 1000
                H[:, 2] = fl
                H[:, 3] = fl
                buf[off[:, None] + np.arange(16)] = H.view(np.uint8).reshape(m, 16)
            else:
                units = tsc if ns else tsc // 1000
                H = np.empty((m, 7), dtype="<u4")
                H[:, 0] = 6
                H[:, 1] = rec
                H[:, 2] = 0
                H[:, 3] = units >> 32
                H[:, 4] = units & 0xFFFFFFFF
                H[:, 5] = fl
                H[:, 6] = fl
                buf[off[:, None] + np.arange(28)] = H.view(np.uint8).reshape(m, 28)
                tr = rec.astype("<u4").view(np.uint8).reshape(m, 4)
                buf[(off + rec - 4)[:, None] + np.arange(4)] = tr
                for k in range(3):
                    q = padded - fl > k
                    buf[off[q] + rh + fl[q] + k] = 0
            fpos = off + rh

            src = {"l3len": l3len[lo:hi], "ipid": P["ipid"][lo:hi], "ipid2": P["ipid2"][lo:hi],
                   "seq": P["seq"][lo:hi], "aux": P["aux"][lo:hi], "aux2": P["aux2"][lo:hi]}
            order = np.argsort(t, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(np.bincount(t, minlength=nt))])
            for i in range(nt):
                sel = order[bounds[i]:bounds[i + 1]]
                if not len(sel):
                    continue
                tp = T[i]
                p = fpos[sel]
                buf[p[:, None] + tp.write_idx] = tp.hdr[tp.write_idx]
                for s in tp.stamps:
                    if s[0] == "be":
                        _, o, width, name, sub = s
                        _put_be(buf, p + o, src[name][sel] - sub, width)
                    elif s[0] == "ip4csum":
                        _, o, hl = s
                        _put_be(buf, p + o + 10, _fold(_sum16(_gather(buf, p, o, o + hl))), 2)
                    else:
                        _, a, co, pseudo, end = s
                        acc = _sum16(_gather(buf, p, a, end))
                        if pseudo is not None:
                            fam, io, proto = pseudo
                            if fam == "v4":
                                acc += _sum16(_gather(buf, p, io + 12, io + 20))
                            else:
                                acc += _sum16(_gather(buf, p, io + 8, io + 40))
                            acc += np.uint64(proto + (end - a))
                        c = _fold(acc)
                        if pseudo is not None and proto == 17:
                            c[c == 0] = 0xFFFF
                        _put_be(buf, p + co, c, 2)
            short = np.flatnonzero(real < 60)
            if len(short):
                for k in range(int((60 - real[short]).max())):
                    q = short[real[short] + k < 60]
                    buf[fpos[q] + real[q] + k] = 0
            f.write(memoryview(buf))
            total_bytes += size
    os.replace(tmp, path)
    return total_bytes


def generate(out: str, packets: int = 1_000_000, seed: int = 1, fmt: str = "pcap", ns: bool = False,
             mix: str = "ipsec", quiet: bool = False, sidecar: bool = True) -> dict:
    """Write the capture; return (and store next to it as ``<out>.json``) what it holds."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    T = templates(rng, mix)
    P = plan(T, packets, rng)
    nbytes = write(out, T, P, fmt, ns, rng)
    secs = time.perf_counter() - t0
    per_tpl = np.bincount(P["tpl"], minlength=len(T))
    kinds: dict[str, int] = {}
    for t, c in zip(T, per_tpl.tolist()):
        kinds[t.kind] = kinds.get(t.kind, 0) + c
    dot1q = sum(c for t, c in zip(T, per_tpl.tolist()) if t.vlan and len(t.vlan) == 1)
    qinq = sum(c for t, c in zip(T, per_tpl.tolist()) if t.vlan and len(t.vlan) == 2)
    info = {
        "path": out, "format": fmt, "ns": ns, "seed": seed, "mix": mix, "packets": packets, "bytes": nbytes,
        "kinds": kinds, "relevant": int(sum(c for k, c in kinds.items() if k in RELEVANT_KINDS)),
        "dot1q": int(dot1q), "qinq": int(qinq), "rekey_frame": int(P["rekey_at"]) + 1,
        "first_time_ns": int(P["ts"][0]), "last_time_ns": int(P["ts"][-1]),
        "templates": {t.name: c for t, c in zip(T, per_tpl.tolist())}, "seconds": round(secs, 2),
    }
    if sidecar:
        with open(out + ".json", "w") as f:
            json.dump(info, f, indent=1)
    if not quiet:
        print(describe(info))
    return info


def describe(info: dict) -> str:
    n = info["packets"]
    lines = [f"wrote {info['path']}: {n:,} packets, {info['bytes']:,} bytes "
             f"({info['bytes'] / 1e6:.1f} MB), {info['format']}{' (ns)' if info['ns'] else ''}, "
             f"mix={info['mix']}, seed={info['seed']}, {info['seconds']:.1f} s"]
    span = (info["last_time_ns"] - info["first_time_ns"]) / 1e9
    lines.append(f"  time span {span:.1f} s; tunnel 0 rekeyed at frame {info['rekey_frame']:,}")
    for k, c in sorted(info["kinds"].items(), key=lambda kv: -kv[1]):
        mark = "*" if k in RELEVANT_KINDS else " "
        lines.append(f"  {mark} {k:<18} {c:>10,}  {100 * c / n:6.2f} %")
    lines.append(f"  802.1Q tagged {info['dot1q']:,}, QinQ {info['qinq']:,} "
                 f"({100 * (info['dot1q'] + info['qinq']) / n:.1f} % of frames)")
    lines.append(f"  * IPsec-relevant (rows the reader should return): {info['relevant']:,}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--out", default="bench/out/ipsec-mix.pcap")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("pcap", "pcapng"), default="pcap")
    ap.add_argument("--ns", action="store_true",
                    help="nanosecond timestamps (pcap magic 0xa1b23c4d; pcapng if_tsresol 9)")
    ap.add_argument("--mix", choices=("ipsec", "plain"), default="ipsec",
                    help="plain: same traffic with IPsec cut to ~2%% (memory check)")
    ap.add_argument("--no-sidecar", action="store_true", help="do not write <out>.json")
    a = ap.parse_args(argv)
    if a.packets < 1:
        ap.error("--packets must be positive")
    d = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(d, exist_ok=True)
    generate(a.out, a.packets, a.seed, a.format, a.ns, a.mix, sidecar=not a.no_sidecar)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:          # output piped into head
        sys.exit(0)
