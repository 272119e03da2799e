"""tshark as an independent oracle: its field export turned into the rows we expect.

The same field list and display filter as the corpus ground truth
(fixtures/pcaps/ground-truth/*.tsv, made with TShark 4.0).  Rules where tshark and
badspi legitimately differ, applied here and nowhere else:

1. tshark fills ``esp.spi``/``ip.src``… for the packet quoted inside an ICMP error too
   (``-E occurrence=a`` lists outer first).  We keep quoted fields in ``inner_*``: the
   first value is the outer packet, the next one the quote.
2. tshark reassembles IP fragments by default and shows the ESP/IKE on the last
   fragment; we decode first fragments.  Live comparisons use ``-o ip.defragment:FALSE``;
   stored ground truth of captures with fragments is compared on unfragmented frames only.
3. The ground-truth filter does not select ICMP type 12 / ICMPv6 type 4 errors, which
   we keep; they are left out of the comparison.
4. When tshark does not dissect an ISAKMP header (malformed), we still report the
   header bytes on UDP 500; IKE fields are compared only where tshark has them.
5. Our ``vlan`` is the outermost tag; tshark's ``vlan.id`` leaves out an 802.1ad S-tag
   (that is ``ieee8021ad.svid``), so QinQ frames are compared without it.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FIELDS = [
    "frame.number", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.protocols",
    "_ws.col.Protocol", "vlan.id", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto",
    "ipv6.nxt", "udp.srcport", "udp.dstport", "esp.spi", "esp.sequence", "ah.spi",
    "ah.sequence", "ah.next_header", "isakmp.version", "isakmp.exchangetype", "isakmp.ispi",
    "isakmp.rspi", "isakmp.messageid", "isakmp.flags", "isakmp.length", "isakmp.nextpayload",
    "udpencap.nat_keepalive", "udpencap.non_esp_marker", "icmp.type", "icmp.code", "icmp.mtu",
    "icmpv6.type", "icmpv6.code", "icmpv6.mtu",
]
FILTER = ("esp || ah || isakmp || udpencap || udp.port==500 || udp.port==4500 || icmp.type==3 || "
          "icmp.type==11 || icmpv6.type==1 || icmpv6.type==2 || icmpv6.type==3")


def have_tshark() -> bool:
    return shutil.which("tshark") is not None


def run_tshark(capture: Path, defragment: bool = False) -> list[dict]:
    cmd = ["tshark", "-n", "-r", str(capture), "-o", f"ip.defragment:{'TRUE' if defragment else 'FALSE'}",
           "-o", "ipv6.defragment:FALSE" if not defragment else "ipv6.defragment:TRUE",
           "-Y", FILTER, "-T", "fields", "-E", "header=y", "-E", "separator=/t", "-E", "occurrence=a",
           "-E", "quote=n"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_tsv(out.splitlines())


def read_ground_truth(path: Path) -> list[dict]:
    return parse_tsv(path.read_text().splitlines())


def parse_tsv(lines) -> list[dict]:
    rows, header = [], None
    for line in lines:
        if line.startswith("#") or not line.strip():
            continue
        cells = line.split("\t")
        if header is None:
            header = cells
            continue
        rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)))))
    return rows


def _values(cell: str) -> list[str]:
    return [v for v in cell.split(",")] if cell else []


def _int(text: str | None):
    if text is None or text == "":
        return None
    return int(text, 16) if text.startswith("0x") else int(text)


def _first(cell: str):
    v = _values(cell)
    return v[0] if v else None


def _second(cell: str):
    v = _values(cell)
    return v[1] if len(v) > 1 else None


def expected(row: dict) -> dict | None:
    """What badspi should report for one tshark row (None: out of comparison)."""
    layers = row["frame.protocols"].split(":")
    ip_at = next((i for i, p in enumerate(layers) if p in ("ip", "ipv6")), None)
    if ip_at is None:
        return None
    outer_v6 = layers[ip_at] == "ipv6"
    above = layers[ip_at + 1:]
    # An IPv6 fragment header shows as "ipv6.fraghdr"; skip extension header names.
    above = [p for p in above if not p.startswith("ipv6.")]
    top = above[0] if above else None
    exp: dict = {
        "frame": int(row["frame.number"]),
        "time_ns": _epoch_ns(row["frame.time_epoch"]),
        "length": int(row["frame.len"]),
        "ip_version": 6 if outer_v6 else 4,
        "src": _first(row["ipv6.src" if outer_v6 else "ip.src"]),
        "dst": _first(row["ipv6.dst" if outer_v6 else "ip.dst"]),
        "vlan": _int(_first(row["vlan.id"])),
    }
    if top == "esp":
        exp.update(kind="esp", spi=_int(_first(row["esp.spi"])), seq=_int(_first(row["esp.sequence"])))
    elif top == "ah":
        exp.update(kind="ah", spi=_int(_first(row["ah.spi"])), seq=_int(_first(row["ah.sequence"])))
    elif top == "udp":
        exp.update(sport=_int(_first(row["udp.srcport"])), dport=_int(_first(row["udp.dstport"])))
        nxt = above[1] if len(above) > 1 else None
        if nxt == "udpencap" and row["udpencap.nat_keepalive"]:
            exp["kind"] = "nat-keepalive"
        elif nxt == "udpencap" and "esp" in above[2:3]:
            exp.update(kind="esp-in-udp", spi=_int(_first(row["esp.spi"])), seq=_int(_first(row["esp.sequence"])))
        elif nxt in ("isakmp", "udpencap") or {exp["sport"], exp["dport"]} & {500, 4500}:
            exp["kind"] = "ike" if ("isakmp" in above or row["udpencap.non_esp_marker"]
                                    or 500 in (exp["sport"], exp["dport"])) else "esp-in-udp"
            if row["isakmp.ispi"]:
                exp.update(ike_ispi=_first(row["isakmp.ispi"]), ike_rspi=_first(row["isakmp.rspi"]))
            if row["isakmp.version"]:
                exp["ike_version"] = _int(_first(row["isakmp.version"])) >> 4
            if row["isakmp.exchangetype"]:
                exp["ike_exchange_code"] = _int(_first(row["isakmp.exchangetype"]))
            if row["isakmp.messageid"]:
                exp["ike_msgid"] = _int(_first(row["isakmp.messageid"]))
        else:
            return None
    elif top in ("icmp", "icmpv6"):
        typ = _int(_first(row["icmpv6.type" if outer_v6 else "icmp.type"]))
        code = _int(_first(row["icmpv6.code" if outer_v6 else "icmp.code"]))
        mtu = _int(_first(row["icmpv6.mtu" if outer_v6 else "icmp.mtu"]))
        exp.update(kind="icmp-error", icmp_type=typ, icmp_code=code, icmp_mtu=mtu)
        inner = above[1:]
        if inner and inner[0] in ("ip", "ipv6"):
            inner_v6 = inner[0] == "ipv6"
            # The quoted header's addresses are the next values of the same family's fields.
            src_col, dst_col = ("ipv6.src", "ipv6.dst") if inner_v6 else ("ip.src", "ip.dst")
            pick = _second if inner_v6 == outer_v6 else _first
            exp.update(inner_src=pick(row[src_col]), inner_dst=pick(row[dst_col]))
            after = [p for p in inner[1:] if not p.startswith("ipv6.")]
            if after[:1] == ["esp"]:
                exp.update(inner_proto=50, inner_spi=_int(_last(row["esp.spi"])),
                           inner_seq=_int(_last(row["esp.sequence"])))
            elif after[:1] == ["ah"]:
                exp.update(inner_proto=51, inner_spi=_int(_last(row["ah.spi"])),
                           inner_seq=_int(_last(row["ah.sequence"])))
            elif after[:1] in (["udp"], ["tcp"]):
                exp["inner_proto"] = 17 if after[0] == "udp" else 6
                if after[0] == "udp":
                    exp.update(inner_sport=_int(_last(row["udp.srcport"])), inner_dport=_int(_last(row["udp.dstport"])))
                if "esp" in after:
                    exp.update(inner_spi=_int(_last(row["esp.spi"])), inner_seq=_int(_last(row["esp.sequence"])))
    else:
        return None
    return exp


def _last(cell: str):
    v = _values(cell)
    return v[-1] if v else None


def _epoch_ns(text: str) -> int:
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
