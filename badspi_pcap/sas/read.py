"""SA tables from device CLI output -> the ``sas`` table (and the counters they show).

Supported: ScreenOS ``get sa`` / ``get sa active`` / ``get sa stat`` / ``get sa id N`` /
``get ike cookie`` (UNCONFIRMED layout), Junos ``show security ipsec
security-associations`` / ``statistics``, Cisco ``show crypto ipsec sa`` (IOS, IOS-XE, ASA), strongSwan
``swanctl --list-sas``, Linux ``ip xfrm state`` and ``/proc/net/xfrm_stat``.  Every parser
reads every file (their row shapes do not overlap), so one file may hold several
outputs, e.g. a ``get tech`` dump.  The device name comes from the CLI prompt when the
output includes it.  Every table, its public source and what is unconfirmed: docs/formats.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from ..errors import InputError, Skipped, UsageError
from ..logs.textfile import as_paths, read_lines
from ..schema import SAS, from_rows, to_frame
from . import ios, junos, linux, screenos, strongswan
from .table import PROMPT, SaTable

TABLES: tuple[SaTable, ...] = (screenos.TABLES + junos.TABLES + ios.TABLES + strongswan.TABLES + linux.TABLES)

COUNTERS = pa.schema([
    ("source", pa.string()),
    ("line", pa.int64()),
    ("device", pa.string()),
    ("vendor", pa.string()),
    ("tunnel_id", pa.int64()),
    ("gateway", pa.string()),
    ("direction", pa.string()),
    ("spi", pa.uint32()),
    ("section", pa.string()),        # e.g. "Errors" in show security ipsec statistics
    ("name", pa.string()),           # XfrmInNoStates, Invalid SPI, Auth-Fail, bytes, ...
    ("value", pa.int64()),
])


@dataclass
class SaParse:
    sas: pd.DataFrame
    counters: pd.DataFrame
    skipped: list[Skipped] = field(default_factory=list)
    stats: pd.DataFrame | None = None   # source, format, lines, sas, counters


def select_tables(name: str | None) -> tuple[SaTable, ...]:
    if name is None:
        return TABLES
    chosen = tuple(t for t in TABLES if t.selected_by(name))
    if not chosen:
        names = sorted({t.name for t in TABLES} | {v for t in TABLES for v in (t.vendor, *t.also)})
        raise UsageError(f"unknown SA table format {name!r}: choose one of {', '.join(names)}")
    return chosen


def parse_sas(paths, *, format: str | None = None) -> SaParse:
    """Read SA table outputs (one path or many); InputError for a file with none."""
    tables = select_tables(format)
    skipped: list[Skipped] = []
    sas, counters, stats = [], [], []
    for path in as_paths(paths):
        lines = [(n, t) for n, t in read_lines(path, skipped) if t.strip()]
        device = _devices(lines)
        found: dict[str, list[int]] = {}
        for table in tables:
            for what, row in _rows(table, lines, skipped, str(path)):
                _fit(row, SAS if what == "sa" else COUNTERS, skipped, str(path))
                row.update(source=str(path), vendor=row.get("vendor") or table.vendor, device=device.get(row["line"]))
                (sas if what == "sa" else counters).append(row)
                found.setdefault(table.name, [0, 0])[what != "sa"] += 1
        if not found:
            raise InputError(f"{path}: no SA table found (get sa, show security ipsec ..., show crypto ipsec sa,"
                             f" swanctl --list-sas, ip xfrm state)")
        stats.append({"source": str(path), "format": "+".join(found), "lines": len(lines),
                      "sas": sum(n for n, _ in found.values()), "counters": sum(c for _, c in found.values())})
    if not stats:
        raise UsageError("no SA table files given")
    return SaParse(to_frame(from_rows(SAS, sas)), to_frame(from_rows(COUNTERS, counters)), skipped,
                   pd.DataFrame(stats))


def read_sas(paths, **options) -> pd.DataFrame:
    """Just the sas table of ``parse_sas``."""
    return parse_sas(paths, **options).sas


def _rows(table: SaTable, lines, skipped: list[Skipped], source: str):
    try:
        yield from table.parse(lines)
    except Exception as e:  # a parser bug must not lose the other tables: say where
        skipped.append(Skipped(source, table.name, f"parser error {type(e).__name__}: {e}"))


def _int_bounds(schema: pa.Schema) -> dict[str, tuple[int, int]]:
    out = {}
    for f in schema:
        if pa.types.is_integer(f.type):
            bits = f.type.bit_width
            out[f.name] = (0, (1 << bits) - 1) if pa.types.is_unsigned_integer(f.type) else (
                -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return out


_BOUNDS = {id(SAS): _int_bounds(SAS), id(COUNTERS): _int_bounds(COUNTERS)}


def _fit(row: dict, schema: pa.Schema, skipped: list[Skipped], source: str) -> None:
    """A number that does not fit its column (a port of 30 digits in damaged output) is
    left empty, and said, instead of failing the whole table."""
    for name, (low, high) in _BOUNDS[id(schema)].items():
        value = row.get(name)
        if isinstance(value, int) and not low <= value <= high:
            text = str(value)
            shown = text if len(text) <= 24 else text[:20] + "..."
            skipped.append(Skipped(source, f"line {row.get('line')}", f"{name} {shown} is out of range; left empty"))
            row[name] = None


def _devices(lines) -> dict[int, str | None]:
    """Line number -> the device named by the last CLI prompt before it."""
    current, out = None, {}
    for number, text in lines:
        m = PROMPT.match(text)
        if m:
            current = m["device"]
        out[number] = current
    return out
