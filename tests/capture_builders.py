"""Re-framing real captures for edge cases: the same real IP packets behind other link
layers, in pcapng with several interfaces, compressed, or damaged on purpose."""
from __future__ import annotations

import struct
from pathlib import Path

from scapy.utils import RawPcapReader


def real_frames(path: Path) -> list[tuple[int, bytes]]:
    """(time in ns, Ethernet frame) of every frame of a real pcap."""
    out = []
    reader = RawPcapReader(str(path))
    for data, meta in reader:
        out.append((meta.sec * 1_000_000_000 + meta.usec * 1000, data))
    reader.close()
    return out


def ip_packet(frame: bytes) -> bytes:
    """The IP packet inside an untagged Ethernet frame."""
    return frame[14:]


def ethertype(ip: bytes) -> int:
    return 0x86DD if ip[0] >> 4 == 6 else 0x0800


LINK_HEADERS = {
    # name: (linktype, function building the frame from the IP packet)
    "sll": (113, lambda ip: struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\x0a\x01\0\0", ethertype(ip)) + ip),
    "sll2": (276, lambda ip: struct.pack("!HHIHBB8s", ethertype(ip), 0, 2, 1, 0, 6, b"\x02\0\0\0\x0a\x01\0\0") + ip),
    "raw": (101, lambda ip: ip),
    "null-le": (0, lambda ip: struct.pack("<I", 30 if ip[0] >> 4 == 6 else 2) + ip),
    "null-be": (0, lambda ip: struct.pack(">I", 30 if ip[0] >> 4 == 6 else 2) + ip),
    "loop": (108, lambda ip: struct.pack(">I", 24 if ip[0] >> 4 == 6 else 2) + ip),
    "ppp": (9, lambda ip: b"\xff\x03" + struct.pack("!H", 0x57 if ip[0] >> 4 == 6 else 0x21) + ip),
    "dot1q": (1, lambda ip: b"\x02" * 6 + b"\x04" * 6 + struct.pack("!HHH", 0x8100, 0x2000 | 635, ethertype(ip)) + ip),
    "qinq": (1, lambda ip: b"\x02" * 6 + b"\x04" * 6 + struct.pack("!HHHHH", 0x88A8, 100, 0x8100, 635, ethertype(ip)) + ip),
}


def pcap_bytes(records, linktype: int = 1, *, big_endian=False, nano=False, snaplen=65535) -> bytes:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for t_ns, data in records:
        frac = t_ns % 1_000_000_000 if nano else (t_ns % 1_000_000_000) // 1000
        out.append(struct.pack(e + "IIII", t_ns // 1_000_000_000, frac, len(data), len(data)) + data)
    return b"".join(out)


def pcapng_bytes(records_by_interface: list[tuple[int, int, list]], interleave=True) -> bytes:
    """records_by_interface: [(linktype, tsresol exponent (6 = µs, 9 = ns), records)]."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for linktype, exp, _ in records_by_interface:
        opt = struct.pack("<HHB3x", 9, 1, exp) + struct.pack("<HH", 0, 0)
        out.append(block(1, struct.pack("<HHI", linktype, 0, 0) + opt))
    merged = []
    for idx, (_, exp, records) in enumerate(records_by_interface):
        for t_ns, data in records:
            merged.append((t_ns, idx, exp, data))
    if interleave:
        merged.sort(key=lambda r: r[0])
    for t_ns, idx, exp, data in merged:
        ticks = t_ns // 10 ** (9 - exp)
        out.append(block(6, struct.pack("<IIIII", idx, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data))
    return b"".join(out)
