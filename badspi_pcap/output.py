"""Writing tables to files: Parquet, CSV or JSON Lines, chosen by the file name.

Writes are atomic (a temporary file renamed into place), so an interrupted run never
leaves a half-written file that looks complete.  CSV cells that a spreadsheet would run
as a formula are neutralised, in every text column (categories too), and a cell cannot
smuggle a row break.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError, UsageError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def output_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise UsageError(
            f"cannot tell the output format from {str(path)!r}: use a name ending in "
            + ", ".join(sorted(FORMATS))
        ) from None


def neutralise_formula(value):
    """Prefix a quote to text a spreadsheet would evaluate (CSV formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _categorical(dtype) -> bool:
    return isinstance(dtype, pd.CategoricalDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_dictionary(dtype.pyarrow_dtype))


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` to ``path`` in the format its suffix names, atomically."""
    fmt = output_format(path)
    path = Path(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
        elif fmt == "csv":
            safe = df.copy()
            for col in safe.columns:
                if _categorical(safe[col].dtype):  # text in categories is text too
                    safe[col] = safe[col].astype(object)
                if pd.api.types.is_string_dtype(safe[col].dtype):
                    safe[col] = safe[col].map(neutralise_formula, na_action="ignore")
            # CRLF rows (RFC 4180) make the writer quote every cell holding a CR: with LF
            # rows a bare CR inside a cell ended the row in a spreadsheet and started the
            # next one with the rest of the cell, formula included.
            safe.to_csv(tmp, index=False, lineterminator="\r\n")
        else:
            df.to_json(tmp, orient="records", lines=True, date_format="iso", date_unit="ns")


def check_writable(path: str | os.PathLike, option: str) -> None:
    """Raise InputError (one line, exit 1) unless a file can be written at ``path``: its
    folder exists and is writable, and the path is not a folder.  The same rule for
    every output option (-o, --evidence, --report), checked before any work."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise InputError(f"cannot write {option} {path}: it is a folder")
    if not folder.is_dir():
        raise InputError(f"cannot write {option} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise InputError(f"cannot write {option} {path}: permission denied")


class atomic_path:
    """Context manager yielding a temporary path that replaces ``path`` on success."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        os.close(fd)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            # mkstemp makes the file private (0600); give it the permissions a plain open() would.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
            os.replace(self.tmp, self.path)
        else:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass
