"""Many captures in, one Parquet dataset out: ``badspi batch``.

``run_batch`` finds the captures in files, folders, globs and archives (``archive.scan``),
then runs one plain function, ``check_capture(source, options)``, on each of them: inline
(``jobs=1``), in a local process pool, or on a Dask cluster (``scheduler=``).  Each worker
reopens its capture by address (never sent bytes), reads it, analyses it with the logs
mapped to it, and writes its rows to the dataset itself:

    DATASET/packets/<capture_id>.parquet     the packets table (README), plus capture_id
    DATASET/findings/<capture_id>.parquet    the findings table, plus capture and capture_id
    DATASET/summary/<capture_id>.parquet     one row per capture (SUMMARY below)
    DATASET/_manifest/<capture_id>.json      written last: this capture's rows are complete
    DATASET/_lock                             held by the run writing (see ``check_lock``)

``capture_id`` is the first 16 hex digits of the SHA-256 of the capture's bytes, so a
renamed or copied capture is recognised as done.  Every file is written under a
temporary name and renamed into place; a capture counts as done only once its manifest
entry exists, and is done again when the logs or options mapped to it change.
"""
from __future__ import annotations

import csv
import fnmatch
import glob
import hashlib
import io
import json
import os
import secrets
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import schema, storage
from .archive import SEP, CaptureSource, HashingReader, Limits, Unread, open_source, release, scan
from .errors import BadspiError, InputError, OutputError, Skipped, UsageError, os_error_text, without_content
from .options import AnalysisOptions
from .output import atomic_path
from .storage import RemoteStore, absolute, dataset_store, is_url, list_files, open_binary, stat

TABLES = ("packets", "findings", "summary")
MANIFEST = "_manifest"
LOCK = "_lock"                 # held (flock) by the run writing; holds that run's token
NO_FLOCK = "no-flock"          # in the lock file when flock does not exclude (some network filesystems)
ROW_GROUP = 131_072
ID_DIGITS = 16
DASK_CONNECT_TIMEOUT = "20s"
STRONG = ("confirmed", "likely")

SUMMARY = pa.schema([
    ("capture_id", pa.string()),      # first 16 hex digits of sha256 (of the address for unread entries)
    ("capture", pa.string()),         # address: path, or archive::member
    ("status", pa.string()),          # ok | error | skipped | failed
    ("error", pa.string()),           # why not ok
    ("sha256", pa.string()),
    ("path", pa.string()),            # the file on disk (the archive, for members)
    ("member", pa.string()),          # inside the archive (nested: a::b)
    ("size", pa.int64()),             # bytes as stored
    ("format", pa.string()),
    ("compression", pa.string()),
    ("frames", pa.int64()),
    ("ipsec_packets", pa.int64()),    # rows of the packets table
    ("esp", pa.int64()),
    ("ah", pa.int64()),
    ("esp_in_udp", pa.int64()),
    ("ike", pa.int64()),
    ("icmp_errors", pa.int64()),
    ("icmp_errors_ipsec", pa.int64()),  # ICMP errors quoting ESP/AH/IKE/NAT-T
    ("first_time", schema.UTC_NS),
    ("last_time", schema.UTC_NS),
    ("duration_s", pa.float64()),
    ("linktypes", pa.string()),
    ("spis", pa.int64()),             # distinct ESP/AH SPIs seen
    ("spi_list", pa.string()),
    ("quoted_spis", pa.string()),     # SPIs quoted by ICMP errors
    ("tunnels", pa.string()),
    ("logs", pa.string()),            # log and SA files analysed with the capture
    ("bad_spi_lines", pa.int64()),
    ("clock_offset_s", pa.float64()),
    ("findings", pa.int64()),
    ("verdicts", pa.string()),        # tunnel: cause verdict; ...
    ("main_cause", pa.string()),      # confirmed/likely cause explaining the most lines
    ("warnings", pa.int64()),
    ("warning_text", pa.string()),
])

FINDINGS = pa.schema([("capture_id", pa.string()), ("capture", pa.string()), *schema.FINDINGS])
PACKETS = pa.schema([("capture_id", pa.string()), *schema.PACKETS])


@dataclass(frozen=True)
class CheckOptions(AnalysisOptions):
    """How one capture is analysed: the logs mapped to it and the analysis options."""

    events: tuple[str, ...] = ()
    sas: tuple[str, ...] = ()

    def analysis(self) -> AnalysisOptions:
        return AnalysisOptions(**{k: getattr(self, k) for k in AnalysisOptions.names()})


@dataclass
class CaptureResult:
    """What ``check_capture`` found: the three tables' rows for one capture."""

    summary: dict
    packets: pd.DataFrame | None = None
    findings: pd.DataFrame | None = None


@dataclass(frozen=True)
class Task:
    source: CaptureSource | Unread
    options: CheckOptions
    dataset: str
    fingerprint: str
    token: str | None = None      # the run's lock token: nothing is written once it is not ours


class RunLost(BadspiError):
    """The run that started this worker no longer holds the dataset's lock."""


def capture_id(entry: CaptureSource | Unread) -> str:
    """By content; an entry without content (a FIFO, a link, an unreadable file) by where
    it really is, so that naming its folder another way (relative, absolute, through a
    link) finds it done."""
    digest = entry.sha256 or hashlib.sha256(f"unread:{resolved_address(entry)}".encode()).hexdigest()
    return digest[:ID_DIGITS]


def resolved_address(entry: CaptureSource | Unread) -> str:
    """The entry's file with its folder's links resolved (not the entry's own: a link is
    the entry), then the archive members."""
    if is_url(entry.path):
        return SEP.join([entry.path, *(h.member for h in entry.hops)])
    folder, name = os.path.split(entry.path)
    return SEP.join([os.path.join(os.path.realpath(folder), name), *(h.member for h in entry.hops)])


# ---------------------------------------------------------------- one capture

def check_capture(source: CaptureSource, options: CheckOptions = CheckOptions()) -> CaptureResult:
    """Read and analyse one capture; never raises for a bad capture (status says)."""
    from .analysis import analyze
    from .capture import read_capture

    base = _base_row(source)
    try:
        size = source.size or (0 if source.hops else stat(source.path)[0])
        with open_source(source) as stream:
            reader = HashingReader(stream)
            read = read_capture(source.address, name=source.address, engine=options.engine, stream=reader,
                                size=size)
            digest = reader.finish()
            if getattr(stream, "error", None):
                read.skipped.append(Skipped(source.address, "archive", f"{stream.error}; kept what was there"))
        if source.sha256 and digest != source.sha256:
            raise InputError(f"{source.address}: content changed while the batch ran; run it again")
        analysis = analyze([read], list(options.events), list(options.sas), options.analysis())
    except BadspiError as e:
        return CaptureResult({**base, "status": "error",
                              "error": without_content(str(e).removeprefix(f"{source.address}: "))})
    except Exception as e:  # a bug, or a worker out of memory: listed and retried next run
        return CaptureResult({**base, "status": "failed", "error": f"internal error: {type(e).__name__}: {e}"})
    findings = analysis.findings.copy()
    findings.insert(0, "capture", source.address)
    return CaptureResult(_summary_row(base, read, analysis, options), read.packets, findings)


def _base_row(entry) -> dict:
    return {"capture_id": capture_id(entry), "capture": entry.address, "sha256": entry.sha256,
            "path": entry.path, "member": entry.member, "size": entry.size}


def _summary_row(base: dict, read, analysis, options: CheckOptions) -> dict:
    from .correlation import quotes_ipsec
    from .report.common import by_tunnel, headline

    p = read.packets
    kinds = p["kind"].value_counts()
    spis = sorted({int(s) for s in p.loc[p["kind"].isin(["esp", "ah", "esp-in-udp"]), "spi"].dropna()})
    icmp = p[p["kind"] == "icmp-error"]
    quoted = sorted({int(s) for s in icmp["inner_spi"].dropna()})
    f = analysis.findings
    strong = f[f["verdict"].isin(STRONG)].sort_values("lines_explained", ascending=False, kind="stable")
    logs = list(options.events) + list(options.sas)
    skipped = analysis.skipped
    first, last = read.first_time, read.last_time
    return {
        **base, "status": "ok", "error": None, "format": read.format, "compression": read.compression,
        "frames": read.counts.frames, "ipsec_packets": len(p),
        "esp": int(kinds.get("esp", 0)), "ah": int(kinds.get("ah", 0)),
        "esp_in_udp": int(kinds.get("esp-in-udp", 0)), "ike": int(kinds.get("ike", 0)),
        "icmp_errors": len(icmp), "icmp_errors_ipsec": int(quotes_ipsec(p).sum()),
        "first_time": first, "last_time": last,
        "duration_s": (last - first).total_seconds() if first is not None else None,
        "linktypes": ", ".join(read.linktypes) or None,
        "spis": len(spis), "spi_list": " ".join(f"0x{s:08x}" for s in spis) or None,
        "quoted_spis": " ".join(f"0x{s:08x}" for s in quoted) or None,
        "tunnels": ", ".join(t for t, _ in by_tunnel(f)) or None,
        "logs": "; ".join(logs) or None,
        "bad_spi_lines": len(analysis.lines),
        "clock_offset_s": float(analysis.clock_offset.seconds) if logs else None,
        "findings": len(f),
        "verdicts": headline(f) or None,
        "main_cause": strong["cause"].iloc[0] if len(strong) else None,
        "warnings": len(skipped),
        "warning_text": _warning_text(skipped),
    }


def _warning_text(skipped, keep: int = 5) -> str | None:
    text = "; ".join(without_content(str(s)) for s in skipped[:keep])
    if len(skipped) > keep:
        text += f"; ... {len(skipped) - keep} more"
    return text or None


def run_task(task: Task) -> dict:
    """What a worker runs: check one capture (or list one unread entry), write its rows
    and then its manifest entry.  Returns the summary row."""
    if isinstance(task.source, Unread):
        entry = task.source
        result = CaptureResult({**_base_row(entry), "status": entry.status, "error": entry.reason})
    else:
        result = check_capture(task.source, task.options)
    try:
        write_result(result, task.dataset, task.fingerprint, task.token)
    except OSError as e:   # a full disk, a read-only folder: the environment, not the capture
        raise OutputError(f"{e.filename or task.dataset}: cannot write: {os_error_text(e)}") from None
    return result.summary


def write_result(result: CaptureResult, dataset: str | os.PathLike, fingerprint: str,
                 token: str | None = None) -> None:
    """Replace one capture's rows as a set: its manifest entry removed first, each table
    file written atomically, the manifest entry last (a ``failed`` one too: its rows are
    complete, and the next run tries the capture again).  A kill in between leaves the
    capture without a manifest entry: not done, whatever table files are there.  With
    ``token``, nothing is renamed into place once the dataset's lock no longer holds it
    (the run that started this worker was killed).  ``dataset``: a folder, or a URL
    prefix in object storage (``storage.py``)."""
    store = dataset_store(dataset)
    row = result.summary
    cid = row["capture_id"]
    marker = f"{MANIFEST}/{cid}.json"
    check = (lambda: check_lock(dataset, token)) if token else None
    if check:
        check()
    if store.exists(marker):              # redoing: not done until written again
        store.remove(marker, durable=True)
    tables = {"summary": pa.Table.from_pylist([row], schema=SUMMARY)}
    if result.packets is not None:
        tables["packets"] = _with_id(result.packets, PACKETS, cid)
        tables["findings"] = _with_id(result.findings, FINDINGS, cid)
    for name in TABLES:
        target = f"{name}/{cid}.parquet"
        if name in tables:
            _write_table(store, target, tables[name], check)
        else:
            store.remove(target)
    done = {"capture": row["capture"], "sha256": row["sha256"], "status": row["status"],
            "fingerprint": fingerprint, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tables": sorted(tables)}
    store.write_bytes(marker, (json.dumps(done, indent=1) + "\n").encode(), check)


def check_lock(root: Path, token: str) -> None:
    """Raise ``RunLost`` unless the run holding ``token`` still holds the dataset's lock:
    the lock file names that token and someone (that run) holds its lock."""
    import fcntl

    if is_url(str(root)):
        if not RemoteStore(str(root)).holds(token, LOCK):
            raise RunLost(f"{root}: another run took over the dataset")
        return
    root = Path(root)
    try:
        with open(root / LOCK, "rb") as f:
            held = f.read().decode(errors="replace").split()
            if held[:1] != [token]:
                raise RunLost(f"{root}: another run took over the dataset")
            if NO_FLOCK in held:
                return                        # locks do not exclude here: the token alone tells
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return                        # held: by our run
            raise RunLost(f"{root}: the run that started this worker is gone")
    except FileNotFoundError:
        raise RunLost(f"{root}: the run that started this worker has ended") from None


def _with_id(df: pd.DataFrame, target: pa.Schema, cid: str) -> pa.Table:
    df = df.copy()
    df.insert(0, "capture_id", cid)
    return pa.Table.from_pandas(df, schema=target, preserve_index=False).replace_schema_metadata(None)


def _write_table(store, name: str, table: pa.Table, before_rename=None) -> None:
    if isinstance(store, RemoteStore):   # one object, sent whole
        store.write_table(name, lambda f: pq.write_table(table, f, row_group_size=ROW_GROUP, compression="zstd"),
                          before_rename)
    else:
        _write_parquet(table, store.root / name, before_rename)


def _write_parquet(table: pa.Table, path: Path, before_rename=None) -> None:
    with atomic_path(path, before_rename=before_rename, tidy=False, sync_folder=False) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP, compression="zstd")


def complete_ids(dataset: str | os.PathLike) -> list[str]:
    """The capture_ids whose rows are complete: those with a manifest entry.  A table file
    without one is a run's work in progress (or a killed run's) and must not be read."""
    names = dataset_store(dataset).names(MANIFEST)
    return sorted(n[:-5] for n in names if n.endswith(".json") and not n.startswith("."))


def read_dataset(dataset: str | os.PathLike, table: str = "summary") -> pd.DataFrame:
    """One table of a batch dataset (packets | findings | summary), only the rows of
    complete captures (``complete_ids``): what a reader should trust while a run writes
    or after one was killed."""
    if table not in TABLES:
        raise UsageError(f"unknown table {table!r}: choose one of {', '.join(TABLES)}")
    store = dataset_store(dataset)
    files = [f"{table}/{cid}.parquet" for cid in complete_ids(dataset)]
    files = [f for f in files if store.exists(f)]
    target = {"packets": PACKETS, "findings": FINDINGS, "summary": SUMMARY}[table]
    if not files:
        return target.empty_table().to_pandas()
    if isinstance(store, RemoteStore):
        return pq.ParquetDataset([f"{store.root}/{f}" for f in files], schema=target,
                                 filesystem=store.fs).read().to_pandas()
    return pq.ParquetDataset([str(store.root / f) for f in files], schema=target).read().to_pandas()


# ---------------------------------------------------------------- inputs and logs

def expand_inputs(paths: Iterable[str], exclude: str | os.PathLike | None = None
                  ) -> tuple[list[tuple[str, str]], list[Unread]]:
    """Files to scan as (path, address) in a stable order, from files, folders (walked,
    folder links not followed; ``exclude``, the dataset, left out) and globs.  An
    argument that names nothing is an error."""
    files, unread, seen = [], [], set()
    skip = os.path.realpath(exclude) if exclude else None

    def add(path: str):
        real = path if is_url(path) else os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            files.append((path, path))

    for arg in paths:
        if is_url(arg):
            for url in list_files(arg, exclude=str(exclude) if exclude else None):
                add(url)
        elif os.path.isdir(arg):
            _walk(arg, add, unread, skip)
        elif os.path.lexists(arg):
            add(os.path.normpath(arg))
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise UsageError(f"{arg}: no file or folder matches")
            for m in matches:
                _walk(m, add, unread, skip) if os.path.isdir(m) else add(os.path.normpath(m))
        else:
            raise UsageError(f"{arg}: no such file or folder")
    return files, unread


def _walk(folder: str, add, unread: list, skip: str | None) -> None:
    """Add the files under ``folder``.  Links to folders are not followed, nor links to
    files outside ``folder`` (a link to /etc/shadow put in a case folder): both are listed
    as skipped."""
    top = os.path.realpath(folder)
    if top == skip:
        return
    for root, dirs, names in os.walk(os.path.normpath(folder)):
        dirs.sort()
        for d in list(dirs):
            where = os.path.join(root, d)
            if os.path.islink(where):
                dirs.remove(d)
                unread.append(Unread(where, os.path.abspath(where), "skipped", "link to a folder: not followed"))
            elif os.path.realpath(where) == skip:
                dirs.remove(d)
        for name in sorted(names):
            where = os.path.join(root, name)
            if os.path.islink(where) and os.path.commonpath([top, os.path.realpath(where)]) != top:
                unread.append(Unread(where, os.path.abspath(where), "skipped",
                                     "link to a file outside the folder: not followed"))
            else:
                add(where)


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


class _Fingerprints:
    """Options + the content of each log file they name, hashed: a change redoes the capture."""

    def __init__(self):
        self.files: dict[str, str] = {}

    def file(self, path: str) -> str:
        if path not in self.files:
            digest = hashlib.sha256()
            try:
                with open_binary(path) as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
            except OSError as e:
                raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
            self.files[path] = digest.hexdigest()
        return self.files[path]

    def __call__(self, options: CheckOptions) -> str:
        data = asdict(options)
        data["events"] = [self.file(p) for p in options.events]
        data["sas"] = [self.file(p) for p in options.sas]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:ID_DIGITS]


# ---------------------------------------------------------------- running many

@dataclass
class BatchResult:
    dataset: Path | str         # a folder, or a URL prefix in object storage
    summary: pd.DataFrame       # one row per entry found: SUMMARY + run (new | earlier | duplicate)
    found: int = 0
    checked: int = 0
    earlier: int = 0


def run_batch(paths: Iterable[str], dataset: str | os.PathLike, *, options: CheckOptions = CheckOptions(),
              mapping: list[MapRow] | None = None, jobs: int | None = None, scheduler: str | None = None,
              force: bool = False, limits: Limits | None = None, progress=None) -> BatchResult:
    """Check every capture under ``paths`` and write the dataset (see the module doc).

    ``jobs``: worker processes (default: all cores; 1 runs inline); ``scheduler``: a
    Dask scheduler address (``tcp://host:8786``) to run on instead; ``force``: redo
    captures already done.  ``progress(phase, files, total_bytes)`` may return a context
    manager yielding ``step(bytes)``, called once per file (the CLI's progress bar).
    """
    remote = is_url(storage.local(str(dataset)))
    root = storage.local(str(dataset)).rstrip("/") if remote else Path(storage.local(dataset))
    if not remote and root.exists() and not root.is_dir():
        raise UsageError(f"{root}: exists and is not a folder (the dataset is a folder)")
    mapping = mapping or []
    files, unread = expand_inputs(paths, exclude=root)
    options = replace(options, **_absolute({"events": options.events, "sas": options.sas}))
    mapping = [MapRow(r.pattern, _absolute(r.values)) for r in mapping]
    fingerprint = _Fingerprints()
    for opts in [options, *(replace(options, **row.values) for row in mapping)]:
        fingerprint(opts)             # every log file readable before any work starts
    progress = progress or (lambda phase, files, total: nullcontext(lambda n: None))
    locked = RemoteStore(root).locked(secrets.token_hex(8), LOCK) if remote else _locked(root)
    with locked as token, make_runner(jobs, scheduler) as runner:
        if not remote:
            _clean_temporaries(root)
        entries = unread + _find(runner, files, limits or Limits(), progress)
        tasks, rows = _plan(entries, root, options, mapping, fingerprint, force, token)
        with progress("checking captures", len(tasks), sum(t.source.size for t in tasks)) as step:
            for task, ok, value in runner.run(run_task, tasks):
                if not ok and isinstance(value, (OutputError, RunLost)):
                    raise value   # the dataset cannot be written: stop (the next run resumes)
                if not ok:   # the worker died (or the cluster lost it): listed, retried next run
                    value = {**_base_row(task.source), "status": "failed",
                             "error": f"worker lost: {type(value).__name__}: {value}"}
                    write_result(CaptureResult(value), root, task.fingerprint, token)
                rows.append({**value, "run": "new"})
                step(task.source.size)
    summary = pd.DataFrame(rows, columns=[*SUMMARY.names, "run"])
    order = {e.address: i for i, e in enumerate(entries)}
    summary = summary.sort_values("capture", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return BatchResult(root, summary, found=len(entries), checked=len(tasks),
                       earlier=int((summary["run"] == "earlier").sum()))


def _find(runner, files: list[tuple[str, str]], limits: Limits, progress) -> list:
    """Scan every file (in the workers: hashing reads every capture), in input order."""
    sizes = {address: _size(path) for path, address in files}
    found = {}
    with progress("finding captures", len(files), sum(sizes.values())) as step:
        scans = [(absolute(path), address, limits) for path, address in files]
        for (path, address, _), ok, value in runner.run(_scan_task, scans):
            found[address] = value if ok else [Unread(address, path, "failed",
                                                      f"internal error: {type(value).__name__}: {value}")]
            step(sizes[address])
    return [e for _, address in files for e in found[address]]


def _plan(entries: list, root: Path, options: CheckOptions, mapping: list[MapRow], fingerprint: _Fingerprints,
          force: bool, token: str | None = None) -> tuple[list[Task], list[dict]]:
    """The tasks still to do, and the rows of what needs no work (done earlier, duplicates)."""
    tasks, rows, firsts = [], [], {}
    for entry in entries:
        cid = capture_id(entry)
        if cid in firsts:
            rows.append({**_base_row(entry), "status": "duplicate", "error": f"same content as {firsts[cid]}",
                         "run": "duplicate"})
            continue
        firsts[cid] = entry.address
        if isinstance(entry, CaptureSource):
            opts = options_for(entry.address, options, mapping)
            fp = fingerprint(opts)
        else:   # listed again when the reason changes
            opts, fp = options, hashlib.sha256(f"{entry.status}:{entry.reason}".encode()).hexdigest()[:ID_DIGITS]
        earlier = None if force else _done_row(root, cid, fp)
        if earlier is not None:
            rows.append({**earlier, "capture": entry.address, "run": "earlier"})
        else:
            tasks.append(Task(entry, opts, root if isinstance(root, str) else str(root.resolve()), fp, token))
    return _work_order(tasks), rows


def _scan_task(args) -> list:
    path, address, limits = args
    return scan(path, address, limits)


def _size(path: str) -> int:
    try:
        return stat(path)[0]
    except OSError:
        return 0


def _work_order(tasks: list[Task]) -> list[Task]:
    """Members of a compressed tar in archive order (each worker then reads it forward
    once); everything else largest first, so one big capture does not finish last."""
    def streamed(t):
        hops = t.source.hops
        return bool(hops) and hops[0].archive == "tar" and hops[0].compression is not None

    archive = sorted((t for t in tasks if streamed(t)), key=lambda t: (t.source.path, t.source.hops[0].offset))
    rest = sorted((t for t in tasks if not streamed(t)), key=lambda t: -t.source.size)
    return archive + rest


def _done_row(root: Path, cid: str, fingerprint: str) -> dict | None:
    """The stored summary row of a capture done with the same options, else None."""
    store = dataset_store(root)
    try:
        done = json.loads(store.read_bytes(f"{MANIFEST}/{cid}.json"))
        if done.get("fingerprint") != fingerprint or done.get("status") == "failed":
            return None
        return pq.read_table(pa.BufferReader(store.read_bytes(f"summary/{cid}.parquet"))).to_pylist()[0]
    except (OSError, ValueError, IndexError, pa.ArrowException, OutputError):
        return None


@contextmanager
def _locked(root: Path) -> Iterator[str]:
    """Hold the dataset's lock for one run; yields the run's token, written in the lock
    file so workers can tell their run still holds it.  The lock file is removed at the
    end (while still held; a run that locked a removed file tries again)."""
    import fcntl
    import secrets

    token = secrets.token_hex(8)
    path = root / LOCK
    try:
        root.mkdir(parents=True, exist_ok=True)
        while True:
            lock = open(path, "a+b")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                raise UsageError(f"{root}: another badspi batch is writing this dataset") from None
            try:
                if os.fstat(lock.fileno()).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                pass
            lock.close()
        lock.truncate(0)
        lock.write((token if _flock_excludes(path) else f"{token} {NO_FLOCK}").encode())
        lock.flush()
    except OSError as e:
        raise OutputError(f"{e.filename or root}: cannot write the dataset: {os_error_text(e)}") from None
    try:
        yield token
    finally:
        path.unlink(missing_ok=True)
        lock.close()


def _flock_excludes(path: Path) -> bool:
    """Whether a second lock on ``path`` fails while we hold it (not so on some network
    filesystems, where workers then go by the token alone)."""
    import fcntl

    with open(path, "rb") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def _clean_temporaries(root: Path) -> None:
    """Remove what a killed run left half-written (temporaries are never read as data)."""
    for sub in (*TABLES, MANIFEST):
        folder = root / sub
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.startswith(".") and p.name.endswith(".part"):
                    p.unlink(missing_ok=True)


# ---------------------------------------------------------------- runners

def make_runner(jobs: int | None, scheduler: str | None):
    if scheduler:
        return DaskRunner(scheduler)
    from .capture.parallel import available_cpus
    jobs = available_cpus() if jobs is None else jobs
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return InlineRunner() if jobs == 1 else PoolRunner(jobs)


class InlineRunner:
    """``--jobs 1``: everything in this process, in order."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        release()

    def run(self, fn, items) -> Iterator[tuple]:
        for item in items:
            try:
                yield item, True, fn(item)
            except Exception as e:
                yield item, False, e


class WorkerDied(Exception):
    pass


class PoolRunner:
    """A local process pool, kept for the whole batch.  Results come back as they
    complete, with at most two tasks per worker in flight.  If a worker dies (killed
    for memory, a crash), the tasks it may have held are rerun one at a time in a new
    pool, so only the culprit is lost."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._close(kill=exc_type is not None)

    def _close(self, kill: bool = False) -> None:
        """Shut the pool down; ``kill``: stop the workers now (interrupted, terminated,
        or the dataset cannot be written), not after their current capture."""
        if self.pool is not None:
            if kill:
                for process in list((self.pool._processes or {}).values()):
                    process.kill()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _submit(self, fn, item):
        if self.pool is None:
            import multiprocessing

            from .lifeline import start_worker

            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["badspi_pcap.forkserver_preload", "badspi_pcap.batch"])
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=start_worker,
                                            initargs=(os.getpid(),))
        return self.pool.submit(fn, item)

    def run(self, fn, items) -> Iterator[tuple]:
        queue, suspects = deque(items), deque()
        while queue or suspects:
            if suspects:
                item = suspects.popleft()
                try:
                    yield item, True, self._submit(fn, item).result()
                except BrokenProcessPool:
                    self._close()
                    yield item, False, WorkerDied("the worker process died while checking this capture")
                except Exception as e:
                    yield item, False, e
                continue
            inflight = {}
            while queue or inflight:
                while queue and len(inflight) < 2 * self.jobs:
                    item = queue.popleft()
                    inflight[self._submit(fn, item)] = item
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    item = inflight.pop(future)
                    try:
                        yield item, True, future.result()
                    except BrokenProcessPool:
                        broken = True
                        suspects.append(item)
                    except Exception as e:
                        yield item, False, e
                if broken:
                    suspects.extend(inflight.values())
                    self._close()
                    break


class DaskRunner:
    """The same tasks on a Dask distributed cluster (``pip install badspi_pcap[dask]``).
    Workers must reach the inputs and the dataset: a shared filesystem, or URLs in object
    storage (``storage.py``)."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install 'badspi_pcap[dask]'") from None
        self.address = address
        self._client_class = Client
        self.client = None

    def __enter__(self):
        try:
            self.client = self._client_class(self.address, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise UsageError(f"cannot reach the Dask scheduler at {self.address}: {e}") from None
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()

    def run(self, fn, items) -> Iterator[tuple]:
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        futures = self.client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                item = items[index[future.key]]
                try:
                    yield item, True, future.result()
                except Exception as e:
                    yield item, False, e
                future.release()
        finally:
            self.client.cancel(futures)


# ---------------------------------------------------------------- what the CLI prints

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
