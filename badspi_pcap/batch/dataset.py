"""The batch dataset: its tables (``SUMMARY``, ``FINDINGS``, ``PACKETS``), one capture's
rows written as a set with its manifest entry last (``write_result``), what is complete
(``complete_ids``, ``read_dataset``), and whether a capture is already done with the same
logs and options (fingerprints)."""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema
from ..errors import OutputError, UsageError
from ..output import atomic_path
from ..storage import RemoteStore, dataset_store, open_binary
from .inputs import ID_DIGITS
from .lock import check_lock

if TYPE_CHECKING:
    from .check import CaptureCheck, CheckOptions

TABLES = ("packets", "findings", "summary")
MANIFEST = "_manifest"
ROW_GROUP = 131_072

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


def write_result(result: CaptureCheck, dataset: str | os.PathLike, fingerprint: str,
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


class Fingerprints:
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


def done_row(root: str | Path, cid: str, fingerprint: str) -> dict | None:
    """The stored summary row of a capture done with the same options, else None."""
    store = dataset_store(root)
    try:
        done = json.loads(store.read_bytes(f"{MANIFEST}/{cid}.json"))
        if done.get("fingerprint") != fingerprint or done.get("status") == "failed":
            return None
        return pq.read_table(pa.BufferReader(store.read_bytes(f"summary/{cid}.parquet"))).to_pylist()[0]
    except (OSError, ValueError, IndexError, pa.ArrowException, OutputError):
        return None


def clean_temporaries(root: Path) -> None:
    """Remove what a killed run left half-written (temporaries are never read as data)."""
    for sub in (*TABLES, MANIFEST):
        folder = root / sub
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.startswith(".") and p.name.endswith(".part"):
                    p.unlink(missing_ok=True)
