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
    "qinq": (1, lambda ip: (b"\x02" * 6 + b"\x04" * 6
                            + struct.pack("!HHHHH", 0x88A8, 100, 0x8100, 635, ethertype(ip)) + ip)),
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


# --- pcapng blocks, one by one ------------------------------------------------------------

def block(e: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack(e + "II", btype, len(body) + 12) + body + struct.pack(e + "I", len(body) + 12)


def option(e: str, code: int, value: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def section(e: str, records, *, tsresol: int = 6, tsoffset: int = 0, kind: str = "epb", snaplen: int = 0,
            linktype: int = 1) -> bytes:
    """One section: header, one interface, the records [(ns, frame)] as EPB, SPB or PB."""
    out = [block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    opts = option(e, 9, bytes([tsresol]))
    if tsoffset:
        opts += option(e, 14, struct.pack(e + "q", tsoffset))
    out.append(block(e, 1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts + option(e, 0, b"")))
    per_second = (2 if tsresol & 0x80 else 10) ** (tsresol & 0x7F)
    for ns, frame, *wire in records:
        wirelen = wire[0] if wire else len(frame)
        ticks = (ns - tsoffset * 10**9) * per_second // 10**9
        if kind == "epb":
            out.append(block(e, 6, struct.pack(e + "5I", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), wirelen)
                             + frame))
        elif kind == "pb":
            out.append(block(e, 2, struct.pack(e + "HH4I", 0, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                                               wirelen) + frame))
        else:
            out.append(block(e, 3, struct.pack(e + "I", len(frame)) + frame))
    # blocks the walk skips by their length: name resolution, interface statistics
    out.insert(2, block(e, 4, struct.pack(e + "HH", 0, 0)))
    out.append(block(e, 5, struct.pack(e + "III", 0, 0, 0) + option(e, 0, b"")))
    return b"".join(out)


def natt_short_quotes(tmp_path: Path) -> Path:
    """The real NAT-T capture with every ICMP error cut to an 8-byte quote (the UDP
    header only), as RFC 792 routers send: the quoted SPI is gone."""
    out = []
    for t, frame in real_frames(Path(__file__).resolve().parent.parent / "fixtures" / "pcaps" / "lab" / "natt.pcap"):
        ip = frame[14:]
        if ip[9] == 1 and ip[20] == 3:
            ihl = (ip[0] & 15) * 4
            quote = ip[ihl + 8:]
            inner_ihl = (quote[0] & 15) * 4
            ip = ip[:ihl + 8] + quote[:inner_ihl + 8]
            ip = ip[:2] + struct.pack("!H", len(ip)) + ip[4:]
            frame = frame[:14] + ip
        out.append((t, frame))
    path = tmp_path / "natt-short-quotes.pcap"
    path.write_bytes(pcap_bytes(out))
    return path
