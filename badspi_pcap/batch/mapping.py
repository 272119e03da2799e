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


def _paths(text: str, folder: str) -> tuple[str, ...]:
    """``a.log; b.log``, each relative to the map's own folder."""
    return tuple(storage.join(folder, p.strip()) for p in text.split(";") if p.strip())


def _text(text: str, folder: str) -> str:
    return text


def _year(text: str, folder: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"year {text!r} is not a number") from None


FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _flag(text: str, folder: str) -> bool:
    try:
        return FLAGS[text.lower()]
    except KeyError:
        raise ValueError(f"log_self must be true or false, not {text!r}") from None


CELLS = {  # map column -> how a non-blank cell becomes the CheckOptions field of that name
    "events": _paths, "sas": _paths, "log_tz": _text, "clock_offset": _text, "year": _year, "log_self": _flag,
}
MAP_COLUMNS = ("capture", *CELLS)


def read_map(path: str | os.PathLike) -> list[MapRow]:
    """The ``--map`` CSV: one row per pattern; see README (``badspi batch``)."""
    header, rows = _read_csv(path)
    unknown = [c for c in header if c not in MAP_COLUMNS]
    if "capture" not in header or unknown:
        raise UsageError(f"{path}: the map needs a 'capture' column and only these: {', '.join(MAP_COLUMNS)}"
                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    folder = storage.parent(path)
    out = []
    for n, row in enumerate(rows, start=2):
        if None in row:
            raise UsageError(f"{path}:{n}: more cells than the header names")
        cells = {key: (row.get(key) or "").strip() for key in MAP_COLUMNS}
        try:
            values = {key: read(cells[key], folder) for key, read in CELLS.items() if cells[key]}
        except ValueError as e:
            raise UsageError(f"{path}:{n}: {e}") from None
        if not cells["capture"]:
            raise UsageError(f"{path}:{n}: empty capture pattern")
        out.append(MapRow(cells["capture"], values))
    return out


def _read_csv(path: str | os.PathLike) -> tuple[list[str], list[dict]]:
    try:
        with open_binary(path) as f:
            text = f.read().decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        return list(reader.fieldnames or []), rows
    except OSError as e:
        raise UsageError(f"{path}: cannot read the map: {e.strerror or e}") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: not a CSV map: {e}") from None


def options_for(address: str, base: CheckOptions, mapping: list[MapRow]) -> CheckOptions:
    """The first map row whose pattern matches the address or the capture's file name
    sets that capture's logs and options; blank cells and unmatched captures use ``base``."""
    name = address.rsplit(SEP, 1)[-1].rsplit("/", 1)[-1]
    for row in mapping:
        if fnmatch.fnmatchcase(address, row.pattern) or fnmatch.fnmatchcase(name, row.pattern):
            return replace(base, **row.values)
    return base


def with_absolute_logs(values: dict) -> dict:
    """Log paths made absolute: workers may run elsewhere (another cwd, a cluster)."""
    return {**values, **{k: tuple(absolute(p) for p in values[k]) for k in ("events", "sas") if k in values}}
