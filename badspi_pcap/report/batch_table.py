"""What ``badspi batch`` prints at the end: a short table of the entries worth a look,
and a footer with the counts and where the dataset is."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..batch import BatchResult

PRINT_ROWS = 40


def batch_table(summary: pd.DataFrame, limit: int = PRINT_ROWS) -> pd.DataFrame:
    """The short table printed at the end: every entry when there are few, else the
    ones worth a look (errors first, then ICMP errors quoting IPsec or a cause found,
    then the skipped ones), ``limit`` at most.  ``*``: done by an earlier run."""
    rows = summary
    if len(rows) > limit:
        rank = pd.Series(3, index=rows.index)
        rank[rows["status"].eq("skipped")] = 2
        rank[rows["icmp_errors_ipsec"].fillna(0).gt(0) | rows["main_cause"].notna()] = 1
        rank[rows["status"].isin(["error", "failed"])] = 0
        rows = rows.assign(_rank=rank)[rank < 3].sort_values("_rank", kind="stable").head(limit)
    status = rows["status"] + rows["run"].map({"earlier": "*"}).fillna("")
    warned = rows["warnings"].fillna(0).astype(int)
    notes = warned.map(lambda n: f"{n} warning{'s' if n != 1 else ''}" if n else None)
    result = rows["verdicts"].combine(notes, lambda v, n: "; ".join(x for x in (v, n) if isinstance(x, str)) or None)
    result = result.where(rows["status"].eq("ok"), rows["error"])
    counts = {name: rows[column].astype("Int64") for name, column in
              (("frames", "frames"), ("ipsec", "ipsec_packets"), ("spis", "spis"), ("icmp_ipsec", "icmp_errors_ipsec"))}
    names = rows["capture"].map(lambda a: a if len(a) <= 60 else "…" + a[-59:])  # the end names it
    return pd.DataFrame({"capture": names, "status": status, **counts, "result": result}).reset_index(drop=True)


def batch_footer(result: BatchResult, limit: int = PRINT_ROWS) -> str:
    s = result.summary
    counts = s["status"].value_counts()
    parts = [f"{int(counts.get(k, 0))} {k}" for k in ("ok", "error", "failed", "skipped", "duplicate") if counts.get(k)]
    lines = [f"{len(s)} found: {', '.join(parts) or 'nothing'}; {result.checked} checked now, "
             f"{result.earlier} done by an earlier run (*)"]
    quoted = s[s["icmp_errors_ipsec"].fillna(0).gt(0)]
    if len(quoted):
        lines.append(f"{len(quoted)} capture{'s' if len(quoted) != 1 else ''} with ICMP errors quoting IPsec")
    if len(s) > limit:
        lines.append(f"(at most {limit} rows shown: the whole list is in {result.dataset}/summary)")
    lines.append(f"dataset: {result.dataset}/{{packets,findings,summary}}/*.parquet")
    return "\n".join(lines)
