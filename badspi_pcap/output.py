"""Writing tables to files: Parquet, CSV or JSON Lines, chosen by the file name.

Writes are atomic (a temporary file, flushed to disk, renamed into place), so an
interrupted run or a power cut never leaves a half-written file that looks complete; the
temporaries a killed run left behind are removed by the next write to the same name.
``check_outputs`` runs before any work: no output may overwrite an input or another
output, and each must be writable with a name that says its format.  CSV cells that a spreadsheet would run
as a formula are neutralised, in every text column (categories too), and a cell cannot
smuggle a row break.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .errors import OutputError, UsageError, os_error_text
from .lifeline import process_alive

if TYPE_CHECKING:  # pandas and pyarrow are imported by the functions that write
    import pandas as pd

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
    import pandas as pd
    import pyarrow as pa
    return isinstance(dtype, pd.CategoricalDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_dictionary(dtype.pyarrow_dtype))


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` to ``path`` in the format its suffix names, atomically."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

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


class atomic_path:
    """Context manager yielding a temporary path that replaces ``path`` on success.

    The temporary is ``.NAME.PID.XXXX.part`` beside ``path``: the next write to ``path``
    removes those whose process is gone (a run killed with -9).  The file is fsynced
    before the rename and the folder after it, so a power cut leaves the old file or the
    new one, never an empty one in its place.  ``before_rename()``, when given, runs just
    before the rename and may raise to stop it.  ``tidy=False`` skips the search for stale
    temporaries (a batch cleans its dataset once, not at each of its many files);
    ``sync_folder=False`` leaves the folder's fsync to a later file (a batch syncs it with
    the manifest entry written last)."""

    def __init__(self, path: Path, before_rename=None, tidy: bool = True, sync_folder: bool = True):
        self.path = Path(path)
        self.before_rename = before_rename
        self.tidy = tidy
        self.sync_folder = sync_folder

    def __enter__(self) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.tidy:
            remove_stale_parts(self.path.parent, self.path.name)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=".part",
                                            dir=self.path.parent)
        except OSError as e:   # name the file asked for, not the temporary
            raise OSError(e.errno, e.strerror, str(self.path)) from None
        os.close(fd)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                # mkstemp makes the file private (0600); give it the permissions a plain open() would.
                os.chmod(self.tmp, 0o666 & ~UMASK)
                fsync_path(self.tmp)
                if self.before_rename is not None:
                    self.before_rename()
                os.replace(self.tmp, self.path)
            except BaseException:
                _unlink(self.tmp)
                raise
            if self.sync_folder:
                fsync_path(self.path.parent)
        else:
            _unlink(self.tmp)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def fsync_path(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:   # some filesystems cannot fsync a folder: the file's own fsync is what counts
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def remove_stale_parts(folder: Path, name: str | None = None) -> None:
    """Remove ``.NAME.PID.XXXX.part`` temporaries (of ``name``, or of any name) whose
    writing process no longer runs."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        parts = entry.name.rsplit(".", 3)
        if not (entry.name.startswith(".") and entry.name.endswith(".part") and len(parts) == 4):
            continue
        owner, pid = parts[0][1:], parts[1]
        if (name is None or owner == name) and pid.isdigit() and not process_alive(int(pid)):
            _unlink(entry.path)


# ---------------------------------------------------------------- before any work

TABLE_SUFFIXES = tuple(FORMATS)


def _process_umask() -> int:
    """The process's umask.  Linux states it in /proc/self/status; elsewhere it can only be
    read by setting it, which is done once here, at import, not around each write (another
    thread's file could get the wrong mode in that moment)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _process_umask()   # read once: no process-global change on a worker's write path


def check_outputs(inputs: Iterable, outputs: Iterable[tuple]) -> None:
    """Stop before any work when an output would destroy an input or another output, or
    cannot be written.  ``inputs``: paths read; ``outputs``: ``(option, path, suffixes)``
    with ``path`` None when not asked for, ``suffixes`` the allowed name endings (None:
    any; "folder": a folder is written there).  Two paths are the same file when they
    resolve to it through links (symbolic or hard)."""
    seen: list[tuple[str, str]] = [("input", str(p)) for p in inputs if p is not None]
    for option, path, suffixes in outputs:
        if path is None:
            continue
        path = str(path)
        if "://" in path and not path.startswith("file://"):
            continue                     # object storage: nothing local to overwrite or test
        for what, other in seen:
            if _same_file(path, other):
                role = "an input" if what == "input" else f"the {what} output"
                raise UsageError(f"{path}: {option} would overwrite {role}"
                                 + (f" ({other})" if other != path else "") + "; choose another name")
        seen.append((option, path))
        _check_writable(path, option, folder=suffixes == "folder")
        if suffixes != "folder" and suffixes and Path(path).suffix.lower() not in suffixes:
            raise UsageError(f"cannot tell the output format from {path!r} ({option}): use a name ending in "
                             + ", ".join(suffixes))


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_writable(path: str, option: str, folder: bool) -> None:
    """Create (and remove) a file where ``path`` goes: the only test that tells (root
    passes every permission check, yet not on a read-only filesystem)."""
    target = Path(path)
    if target.is_dir() and not folder:
        raise OutputError(f"{path}: {option} names a folder; give a file name")
    if target.exists() and folder and not target.is_dir():
        raise OutputError(f"{path}: {option} exists and is not a folder")
    where = target if folder and target.is_dir() else target.parent
    while not where.exists() and where != where.parent:
        where = where.parent
    if not where.is_dir():
        raise OutputError(f"{path}: cannot write here: {where} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".badspi-probe.", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{path}: cannot write here: {os_error_text(e)}") from None
