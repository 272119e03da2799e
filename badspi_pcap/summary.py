"""Summaries of a ``packets`` table: per SA, ICMP errors by router, IKE exchanges.

Plain functions from the packets table to small tables; the CLI prints them and the
analysis of a capture without a log builds on them.
"""
from __future__ import annotations

import pandas as pd

from .schema import IPSEC_KINDS


def sa_summary(packets: pd.DataFrame) -> pd.DataFrame:
    """One row per SA seen (SPI, protocol, addresses): packets, time span, sequence
    range, sequence numbers missing inside that range, and ICMP errors quoting it."""
    sa = packets[packets["kind"].isin(list(IPSEC_KINDS)) & packets["spi"].notna()]
    cols = ["spi", "kind", "src", "dst", "packets", "first", "last", "seq_first", "seq_last", "seq_missing",
            "icmp_quoting"]
    if sa.empty:
        return pd.DataFrame(columns=cols)
    grouped = sa.groupby(["spi", "kind", "src", "dst"], observed=True, dropna=False)
    out = grouped.agg(packets=("frame", "size"), first=("time", "min"), last=("time", "max"),
                      seq_first=("seq", "min"), seq_last=("seq", "max"), seq_distinct=("seq", "nunique"))
    span = out["seq_last"].astype("Int64") - out["seq_first"].astype("Int64") + 1
    out["seq_missing"] = (span - out["seq_distinct"]).clip(lower=0)
    quotes = packets[packets["kind"] == "icmp-error"].groupby("inner_spi", observed=True).size()
    out = out.reset_index()
    out["icmp_quoting"] = out["spi"].map(lambda s: int(quotes.get(s, 0))).astype("int64")
    out = out.sort_values(["first", "spi"]).reset_index(drop=True)
    return out[cols]


def icmp_summary(packets: pd.DataFrame) -> pd.DataFrame:
    """ICMP errors grouped by sending router, type/code/MTU and the SPI they quote."""
    icmp = packets[packets["kind"] == "icmp-error"]
    cols = ["router", "icmp_type", "icmp_code", "icmp_mtu", "quoted_spi", "quoted", "errors", "first", "last"]
    if icmp.empty:
        return pd.DataFrame(columns=cols)
    keyed = icmp.assign(
        router=icmp["src"],
        quoted=icmp["inner_src"].astype("string").fillna("?") + " -> " + icmp["inner_dst"].astype("string").fillna("?"),
        quoted_spi=icmp["inner_spi"],
    )
    out = (keyed.groupby(["router", "icmp_type", "icmp_code", "icmp_mtu", "quoted_spi", "quoted"],
                         observed=True, dropna=False)
           .agg(errors=("frame", "size"), first=("time", "min"), last=("time", "max"))
           .reset_index().sort_values(["first", "router"]).reset_index(drop=True))
    return out[cols]


def ike_summary(packets: pd.DataFrame) -> pd.DataFrame:
    """IKE messages per version, exchange and direction (request/response)."""
    ike = packets[packets["kind"] == "ike"]
    cols = ["ike_version", "ike_exchange", "src", "dst", "messages", "first", "last"]
    if ike.empty:
        return pd.DataFrame(columns=cols)
    out = (ike.groupby(["ike_version", "ike_exchange", "src", "dst"], observed=True, dropna=False)
           .agg(messages=("frame", "size"), first=("time", "min"), last=("time", "max"))
           .reset_index().sort_values(["first"]).reset_index(drop=True))
    return out[cols]


def phase2_exchanges(packets: pd.DataFrame) -> pd.DataFrame:
    """Phase 2 (re)negotiations in the capture: IKEv2 CREATE_CHILD_SA and IKEv1 Quick
    Mode requests, with who started them."""
    ike = packets[(packets["kind"] == "ike") & packets["ike_exchange"].isin(["CREATE_CHILD_SA", "QUICK_MODE"])]
    requests = ike[ike["ike_response"].fillna(False).eq(False)]
    cols = ["time", "capture", "frame", "ike_version", "ike_exchange", "initiator", "responder", "ike_msgid"]
    return requests.rename(columns={"src": "initiator", "dst": "responder"})[cols].reset_index(drop=True)
