"""Helpers shared by the log and SA tests (this module holds no tests)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

REF = Path(__file__).resolve().parent.parent / "fixtures" / "logs" / "reference"


def rows_of(events: pd.DataFrame, line: int, source: str | None = None) -> list[dict]:
    """The event rows of one line as plain dicts (nulls -> None), in order."""
    sel = events[events["line"] == line]
    if source is not None:
        sel = sel[sel["source"].str.endswith(source)]
    return [{k: (None if v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) else v)
             for k, v in r.items()} for r in sel.to_dict("records")]


def one(events: pd.DataFrame, line: int, source: str | None = None) -> dict:
    rows = rows_of(events, line, source)
    assert len(rows) == 1, rows
    return rows[0]


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def local(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def subset(row: dict, expected: dict) -> dict:
    """The row restricted to the expected keys, to compare with == and see every field."""
    return {k: row.get(k) for k in expected}


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path
