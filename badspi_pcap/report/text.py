"""Plain-text tables that paste cleanly into a case note (no box-drawing characters)."""
from __future__ import annotations

import re

import pandas as pd

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value) -> str:
    """Text safe for a terminal: control characters (escape sequences too) become '?'."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return _CONTROL.sub("?", str(value)).replace("\n", " ").replace("\t", " ")


def format_table(df: pd.DataFrame, *, max_width: int = 60, right: tuple[str, ...] = ()) -> str:
    """Render ``df`` as aligned columns; cells longer than ``max_width`` are cut with '…'.

    Numeric columns and the columns named in ``right`` are right-aligned.
    """
    if df.empty:
        return "(none)"
    headers = [str(c) for c in df.columns]
    cells = [[_cut(clean(v), max_width) for v in row] for row in df.itertuples(index=False, name=None)]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    align_right = [c in right or pd.api.types.is_numeric_dtype(df[c].dtype) for c in df.columns]

    def line(values):
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, align_right)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
