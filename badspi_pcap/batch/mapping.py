"""The ``--map`` CSV: which logs and options each capture gets, by pattern."""
from __future__ import annotations

import csv
import fnmatch
import io
import os
from dataclasses import dataclass, replace

from .. import storage
from ..archive import SEP
from ..errors import UsageError
from ..storage import absolute, open_binary
from .check import CheckOptions


@dataclass(frozen=True)
class MapRow:
    pattern: str
    values: dict


MAP_COLUMNS = ("capture", "events", "sas", "log_tz", "clock_offset", "year", "log_self")


def read_map(path: str | os.PathLike) -> list[MapRow]:
    """The ``--map`` CSV: one row per pattern; see README (``badspi batch``)."""
    folder = storage.parent(path)
    try:
        with open_binary(path) as f:
            text = f.read().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        header = rows and list(rows[0]) or []
    except OSError as e:
        raise UsageError(f"{path}: cannot read the map: {e.strerror or e}") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: not a CSV map: {e}") from None
    unknown = [c for c in header if c not in MAP_COLUMNS]
    if "capture" not in header or unknown:
        raise UsageError(f"{path}: the map needs a 'capture' column and only these: {', '.join(MAP_COLUMNS)}"
                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    out = []
    for n, row in enumerate(rows, start=2):
        values = {}
        for key in ("events", "sas"):
            if (row.get(key) or "").strip():
                values[key] = tuple(storage.join(folder, p.strip()) for p in row[key].split(";") if p.strip())
        for key in ("log_tz", "clock_offset"):
            if (row.get(key) or "").strip():
                values[key] = row[key].strip()
        if (row.get("year") or "").strip():
            try:
                values["year"] = int(row["year"])
            except ValueError:
                raise UsageError(f"{path}:{n}: year {row['year']!r} is not a number") from None
        if (row.get("log_self") or "").strip():
            flag = row["log_self"].strip().lower()
            if flag not in ("true", "false", "yes", "no", "1", "0"):
                raise UsageError(f"{path}:{n}: log_self must be true or false, not {row['log_self']!r}")
            values["log_self"] = flag in ("true", "yes", "1")
        if not (row.get("capture") or "").strip():
            raise UsageError(f"{path}:{n}: empty capture pattern")
        out.append(MapRow(row["capture"].strip(), values))
    return out


def options_for(address: str, base: CheckOptions, mapping: list[MapRow]) -> CheckOptions:
    """The first map row whose pattern matches the address or the capture's file name
    sets that capture's logs and options; blank cells and unmatched captures use ``base``."""
    name = address.rsplit(SEP, 1)[-1].rsplit("/", 1)[-1]
    for row in mapping:
        if fnmatch.fnmatchcase(address, row.pattern) or fnmatch.fnmatchcase(name, row.pattern):
            return replace(base, **row.values)
    return base


def _absolute(values: dict) -> dict:
    """Log paths made absolute: workers may run elsewhere (another cwd, a cluster)."""
    return {**values, **{k: tuple(absolute(p) for p in values[k]) for k in ("events", "sas") if k in values}}
