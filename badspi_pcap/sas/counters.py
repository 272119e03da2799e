"""Drop counters read before and after a capture, and what the capture says they should be.

The counters come from the SA-table parsers (``badspi_pcap.sas.parse_sas``): Linux
``/proc/net/xfrm_stat``, Junos ``show security ipsec statistics``, ScreenOS ``get sa stat``,
Cisco ``show crypto ipsec sa`` and the others.  Each counter gets a ``kind``: ``replay``
(packets dropped by the anti-replay check), ``invalid-spi`` (packets for an SA the device
does not have) or ``other``.  Two snapshots give deltas; the replay deltas are set against
the packets the capture's sequence table says a receiver with the window drops, per
destination (the device is the destination of the SAs it receives on).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema
from ..errors import UsageError

# Counter names as printed -> kind (sources in README "Counters").
KINDS = {
    "XfrmInStateSeqError": "replay",            # Linux: "Sequence number is out of window"
    "XfrmInNoStates": "invalid-spi",            # Linux: "No state is found"
    "Replay errors": "replay",                  # Junos show security ipsec statistics
    "Invalid SPI": "invalid-spi",
    "pkts replay failed (rcv)": "replay",       # Cisco show crypto ipsec sa
    "pkts invalid sa (rcv)": "invalid-spi",
}
# ScreenOS `get sa stat` prints Fragment, Auth-Fail, Other and Totalbytes: no replay column.

KEY = ["vendor", "device", "tunnel_id", "gateway", "direction", "spi", "section", "name"]

COUNTER_DELTAS = pa.schema([
    ("vendor", pa.string()),
    ("device", pa.string()),
    ("tunnel_id", pa.int64()),
    ("gateway", pa.string()),
    ("direction", pa.string()),
    ("spi", pa.uint32()),
    ("section", pa.string()),
    ("name", pa.string()),           # as printed
    ("kind", pa.string()),           # replay | invalid-spi | other
    ("before", pa.int64()),
    ("after", pa.int64()),
    ("delta", pa.int64()),
    ("source_before", pa.string()),  # file:line
    ("source_after", pa.string()),
])

REPLAY_CHECK = pa.schema([
    ("vendor", pa.string()),
    ("device", pa.string()),
    ("name", pa.string()),
    ("delta", pa.int64()),           # what the device counted between the snapshots
    ("window", pa.int64()),
    ("destination", pa.string()),    # the SAs' destination the capture's drops are counted for
    ("capture_drops", pa.int64()),   # packets the capture says a receiver with the window drops
    ("agrees", pa.bool_()),
])


def counter_kind(name) -> str:
    return KINDS.get(str(name).strip(), "other")


def with_kinds(counters: pd.DataFrame) -> pd.DataFrame:
    """The parsers' counters table with a ``kind`` column."""
    return counters.assign(kind=pd.array([counter_kind(n) for n in counters["name"]], dtype=pd.ArrowDtype(pa.string())))


def counter_deltas(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Deltas of the counters both snapshots show (same vendor, device, tunnel, gateway,
    direction, SPI, section and name).  A counter that went down was reset in between:
    its delta is null, never negative."""
    if before.empty or after.empty:
        return schema.to_frame(COUNTER_DELTAS.empty_table())
    b, a = (_keyed(t) for t in (before, after))
    both = b.merge(a, on=KEY, suffixes=("_before", "_after"))
    if both.empty:
        raise UsageError("the before and after counters have no counter in common (other devices or outputs?)")
    delta = both["value_after"] - both["value_before"]
    return schema.to_frame(schema.from_columns(COUNTER_DELTAS, {
        **{k: both[k].where(both[k] != "", None) for k in KEY}, "kind": [counter_kind(n) for n in both["name"]],
        "before": both["value_before"], "after": both["value_after"], "delta": delta.where(delta >= 0),
        "source_before": both["where_before"], "source_after": both["where_after"]}))


def _keyed(counters: pd.DataFrame) -> pd.DataFrame:
    """One row per counter key (the last one a file shows), keys without nulls."""
    t = pd.DataFrame({k: counters[k].astype(object).where(counters[k].notna(), "") for k in KEY})
    t["value"] = counters["value"].astype("int64").to_numpy()
    t["where"] = counters["source"].astype(str) + ":" + counters["line"].astype(str)
    return t.drop_duplicates(KEY, keep="last")


def replay_check(deltas: pd.DataFrame, sequence: pd.DataFrame, window: int, local=None) -> pd.DataFrame:
    """Each replay counter's delta beside the packets the capture says a receiver with
    ``window`` drops: per destination address (the device's own when ``local`` names it,
    else every destination with drops)."""
    from ..sequence import replay_failures

    replay = deltas[(deltas["kind"] == "replay") & deltas["delta"].notna()]
    fails = sequence[replay_failures(sequence, window)] if len(sequence) else sequence
    per_dst = fails.groupby("dst", observed=True).size() if len(fails) else pd.Series(dtype="int64")
    if local:
        per_dst = per_dst[per_dst.index.isin(list(local))]
    rows = []
    for r in replay.itertuples(index=False):
        scoped = per_dst
        if pd.notna(r.spi) or pd.notna(r.gateway):   # a per-SA or per-peer counter: only its drops
            s = fails[fails["spi"] == int(r.spi)] if pd.notna(r.spi) else fails[fails["src"] == r.gateway]
            scoped = s.groupby("dst", observed=True).size() if len(s) else pd.Series(dtype="int64")
        targets = list(scoped.items()) or [(None, 0)]
        for dst, n in targets:
            rows.append({"vendor": _none(r.vendor), "device": _none(r.device), "name": r.name, "delta": int(r.delta),
                         "window": int(window), "destination": dst, "capture_drops": int(n),
                         "agrees": int(n) == int(r.delta)})
    return schema.to_frame(schema.from_rows(REPLAY_CHECK, rows))


def _none(value):
    return None if pd.isna(value) else value


def replay_check_text(check: pd.DataFrame) -> list[str]:
    """One sentence per replay counter: agrees, or what the difference means."""
    out = []
    for r in check.itertuples(index=False):
        where = f" to {r.destination}" if isinstance(r.destination, str) else ""
        head = (f"{r.name} (+{r.delta}) vs the capture: {r.capture_drops} packets{where} fail a "
                f"{r.window}-packet window")
        if r.agrees:
            out.append(f"{head}: they agree.")
        elif r.capture_drops < r.delta:
            out.append(f"{head}: the device counted {r.delta - r.capture_drops} more. Its counters may span more "
                       "time than the capture, its window may be smaller (try --replay-window), or the disorder "
                       "happens on a path this capture point does not see.")
        else:
            out.append(f"{head}: the capture shows {r.capture_drops - r.delta} more. The device's window may be "
                       "larger (try --replay-window), or these packets are not for this device.")
    return out


def nonzero(deltas: pd.DataFrame) -> pd.DataFrame:
    d = deltas[deltas["delta"].fillna(1).to_numpy(dtype=np.int64) != 0]
    return d.reset_index(drop=True)
