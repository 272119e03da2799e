"""Short plain-text summaries of the events and sas tables (what the CLI prints)."""
from __future__ import annotations

import pandas as pd

from ..errors import CONTROL as _CONTROL
from ..errors import printable
from ..notation import spi_text
from .kinds import KINDS
from .parse import LogParse


# vendors whose own output writes tunnel ids in hex (ScreenOS: 00026 "tunnel ID 0x9a", get sa "00000015")
HEX_TUNNEL_IDS = {"screenos"}


def tunnel_text(vendor, tunnel_id) -> str | None:
    """A tunnel id as the vendor prints it: ScreenOS 0x9a, others decimal."""
    if tunnel_id is None or pd.isna(tunnel_id):
        return None
    return f"0x{int(tunnel_id):x}" if vendor in HEX_TUNNEL_IDS else str(int(tunnel_id))


def spi_strings(values: pd.Series) -> pd.Series:
    return values.map(spi_text).astype("string")


def display_table(df: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: SPIs ``0x%08x``, tunnel ids as the vendor prints them."""
    out = df.copy()
    for column in ("spi", "inner_spi"):
        if column in out:
            out[column] = spi_strings(out[column])
    if "tunnel_id" in out and "vendor" in out:
        out["tunnel_id"] = pd.Series([tunnel_text(v, t) for v, t in zip(out["vendor"], out["tunnel_id"])],
                                     index=out.index, dtype="string")
    return out


def _label(df: pd.DataFrame) -> pd.Series:
    """Tunnel id (as the vendor prints it) if the row has one, else the tunnel name, else '-'."""
    ids = pd.Series([tunnel_text(v, t) for v, t in zip(df["vendor"], df["tunnel_id"])], index=df.index,
                    dtype="string")
    return ids.fillna(df["tunnel_name"].astype("string")).fillna("-")


def _clock(series: pd.Series) -> pd.Series:
    return series.astype("datetime64[ns, UTC]").dt.strftime("%Y-%m-%d %H:%M:%S").fillna("-")


def events_summary(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (device, vendor, kind, tunnel): count, first and last time (UTC)."""
    if events.empty:
        return pd.DataFrame(columns=["device", "vendor", "kind", "tunnel", "count", "first (UTC)", "last (UTC)"])
    df = pd.DataFrame({"device": events["device"].astype("string").fillna("-"),
                       "vendor": events["vendor"].astype("string"), "kind": events["kind"].astype("string"),
                       "tunnel": _label(events), "time": events["time"].astype("datetime64[ns, UTC]")})
    out = df.groupby(["device", "vendor", "kind", "tunnel"], sort=False, dropna=False).agg(
        count=("kind", "size"), first=("time", "min"), last=("time", "max")).reset_index()
    order = {k: i for i, k in enumerate(KINDS)}
    out = out.sort_values(["device", "vendor", "kind", "tunnel"],
                          key=lambda c: c.map(order) if c.name == "kind" else c).reset_index(drop=True)
    out["first (UTC)"], out["last (UTC)"] = _clock(out.pop("first")), _clock(out.pop("last"))
    return out


def events_footer(result: LogParse) -> list[str]:
    """The counts line and the assumptions made, as the CLI prints them under the table."""
    stats = result.stats
    lines = [f"{len(result.events)} events from {len(stats)} file{'s' if len(stats) != 1 else ''}, "
             f"{int(stats['lines'].sum())} lines: {int(stats['unparsed'].sum())} unparsed"
             f"{' (--unparsed lists them)' if stats['unparsed'].sum() else ''}, "
             f"{int(stats['duplicates'].sum())} duplicate lines kept once, "
             f"{int(stats['ignored'].sum())} known lines with nothing to report"]
    return lines + [f"note: {printable(n)}" for n in result.notes] + [f"warning: {s}" for s in result.skipped]


def unparsed_lines(unparsed: pd.DataFrame) -> list[str]:
    """'source:line: text' for each unrecognised line, control characters removed."""
    return [f"{printable(s)}:{n}: {_CONTROL.sub('', t)}" for s, n, t in unparsed.itertuples(index=False, name=None)]


def sas_summary(sas: pd.DataFrame) -> pd.DataFrame:
    cols = ["device", "vendor", "tunnel", "gateway", "direction", "spi", "state", "lifetime_s"]
    if sas.empty:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame({"device": sas["device"].astype("string").fillna("-"), "vendor": sas["vendor"],
                        "tunnel": _label(sas), "gateway": sas["gateway"].fillna(sas["dst"]),
                        "direction": sas["direction"],
                        "spi": spi_strings(sas["spi"]).fillna("-"),
                        "state": sas["state"], "lifetime_s": sas["lifetime_s"]})
    # the per-SA counters, when the tables printed them
    shown = [c for c in ("replay_errors", "invalid_spi_errors", "replay_window") if sas[c].notna().any()]
    for column in shown:
        out[column] = sas[column].astype("Int64").astype("string").fillna("-")
    return out[cols + shown]


def counters_summary(counters: pd.DataFrame) -> pd.DataFrame:
    """Non-zero counters only: the ones that say something."""
    nonzero = counters[counters["value"] != 0]
    tunnels = [tunnel_text(v, t) for v, t in zip(nonzero["vendor"], nonzero["tunnel_id"])]
    return pd.DataFrame({"device": nonzero["device"].astype("string").fillna("-"),
                         "tunnel": pd.Series(tunnels, index=nonzero.index, dtype="string").fillna("-"),
                         "gateway": nonzero["gateway"].astype("string").fillna("-"),
                         "direction": nonzero["direction"].astype("string").fillna("-"),
                         "counter": (nonzero["section"].astype("string") + ": ").fillna("") + nonzero["name"],
                         "value": nonzero["value"]}).reset_index(drop=True)

