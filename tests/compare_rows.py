"""Field-by-field comparison of badspi rows with tshark's expectations."""
from __future__ import annotations

import pandas as pd

from badspi_pcap.capture.decode import IKE_EXCHANGES

SIMPLE = ["kind", "ip_version", "src", "dst", "vlan", "length", "sport", "dport", "spi", "seq",
          "ike_version", "ike_msgid", "ike_ispi", "ike_rspi", "icmp_type", "icmp_code", "icmp_mtu",
          "inner_src", "inner_dst", "inner_proto", "inner_sport", "inner_dport", "inner_spi", "inner_seq"]


def _py(v):
    if v is None or v is pd.NA:
        return None
    return v.item() if hasattr(v, "item") else v


def differences(ours: pd.DataFrame, expected_rows: list[dict]) -> list[str]:
    """Human-readable differences (empty when the tables agree)."""
    diffs = []
    by_frame = {int(r.frame): r for r in ours.itertuples(index=False)}
    exp_frames = {e["frame"] for e in expected_rows}
    for frame in sorted(set(by_frame) - exp_frames):
        diffs.append(f"frame {frame}: we report {by_frame[frame].kind}, tshark selects nothing")
    for e in expected_rows:
        row = by_frame.get(e["frame"])
        if row is None:
            diffs.append(f"frame {e['frame']}: tshark has {e.get('kind')}, we have no row")
            continue
        got_time = pd.Timestamp(row.time).value
        if got_time != e["time_ns"]:
            diffs.append(f"frame {e['frame']}: time {got_time} != {e['time_ns']}")
        for col in SIMPLE:
            if col in e and _py(getattr(row, col)) != e[col]:
                diffs.append(f"frame {e['frame']}: {col} {_py(getattr(row, col))!r} != tshark {e[col]!r}")
        if "ike_exchange_code" in e:
            code = e["ike_exchange_code"]
            names = {**IKE_EXCHANGES[1], **IKE_EXCHANGES[2]}
            want = IKE_EXCHANGES.get(e.get("ike_version"), {}).get(code) or names.get(code) or f"UNKNOWN({code})"
            if row.ike_exchange != want:
                diffs.append(f"frame {e['frame']}: ike_exchange {row.ike_exchange!r} != {want!r}")
    return diffs
