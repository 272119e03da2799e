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

The work is split by job: ``inputs`` (files, folders, globs, archives), ``check`` (one
capture's check and summary row), ``dataset`` (the tables, the manifest, what is done),
``lock`` (one run per dataset), ``mapping`` (the ``--map`` CSV) and ``runners`` (inline,
process pool, Dask).  The table ``badspi batch`` prints is in ``report.batch_table``.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import pandas as pd

from .. import storage
from ..archive import CaptureLocation, Limits, Unread
from ..errors import OutputError, UsageError
from ..storage import RemoteStore, is_url
from .check import CaptureCheck, CheckOptions, Task, check_capture, entry_row, run_task
from .dataset import (FINDINGS, MANIFEST, PACKETS, SUMMARY, TABLES, Fingerprints, clean_temporaries, complete_ids,
                      done_row, read_dataset, write_result)
from .inputs import ID_DIGITS, capture_id, expand_inputs, find_captures
from .lock import LOCK, RunLost, check_lock, dataset_lock
from .mapping import MapRow, options_for, read_map, with_absolute_logs
from .runners import DaskRunner, InlineRunner, PoolRunner, WorkerDied, make_runner

__all__ = ["BatchResult", "capture_id", "CaptureCheck", "CaptureLocation", "check_capture", "check_lock",
           "CheckOptions", "complete_ids", "DaskRunner", "expand_inputs", "FINDINGS", "InlineRunner", "make_runner",
           "MANIFEST", "MapRow", "options_for", "PACKETS", "PoolRunner", "read_dataset", "read_map", "run_batch",
           "run_task", "RunLost", "SUMMARY", "TABLES", "Unread", "UsageError", "WorkerDied", "write_result"]


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
    url = storage.local(str(dataset))
    folder = None if is_url(url) else Path(storage.local(dataset))     # None: a URL prefix in object storage
    if folder is not None and folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: exists and is not a folder (the dataset is a folder)")
    root: str | Path = url.rstrip("/") if folder is None else folder
    mapping = mapping or []
    files, unread = expand_inputs(paths, exclude=root)
    options = replace(options, **with_absolute_logs({"events": options.events, "sas": options.sas}))
    mapping = [MapRow(r.pattern, with_absolute_logs(r.values)) for r in mapping]
    fingerprint = Fingerprints()
    for opts in [options, *(replace(options, **row.values) for row in mapping)]:
        fingerprint(opts)             # every log file readable before any work starts
    progress = progress or (lambda phase, files, total: nullcontext(lambda n: None))
    locked = RemoteStore(url.rstrip("/")).locked(secrets.token_hex(8), LOCK) if folder is None else dataset_lock(folder)
    with locked as token, make_runner(jobs, scheduler) as runner:
        if folder is not None:
            clean_temporaries(folder)
        entries = unread + find_captures(runner, files, limits or Limits(), progress)
        tasks, rows = _plan(entries, root, options, mapping, fingerprint, force, token)
        with progress("checking captures", len(tasks), sum(t.source.size for t in tasks)) as step:
            for task, ok, value in runner.run(run_task, tasks):
                if not ok and isinstance(value, (OutputError, RunLost)):
                    raise value   # the dataset cannot be written: stop (the next run resumes)
                if not ok:   # the worker died (or the cluster lost it): listed, retried next run
                    value = {**entry_row(task.source), "status": "failed",
                             "error": f"worker lost: {type(value).__name__}: {value}"}
                    write_result(CaptureCheck(value), root, task.fingerprint, token)
                rows.append({**value, "run": "new"})
                step(task.source.size)
    summary = pd.DataFrame(rows, columns=[*SUMMARY.names, "run"])
    order = {e.address: i for i, e in enumerate(entries)}
    summary = summary.sort_values("capture", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return BatchResult(root, summary, found=len(entries), checked=len(tasks),
                       earlier=int((summary["run"] == "earlier").sum()))


def _plan(entries: list, root: str | Path, options: CheckOptions, mapping: list[MapRow], fingerprint: Fingerprints,
          force: bool, token: str | None = None) -> tuple[list[Task], list[dict]]:
    """The tasks still to do, and the rows of what needs no work (done earlier, duplicates)."""
    tasks: list[Task] = []
    rows: list[dict] = []
    firsts: dict[str, str] = {}
    for entry in entries:
        cid = capture_id(entry)
        if cid in firsts:
            rows.append({**entry_row(entry), "status": "duplicate", "error": f"same content as {firsts[cid]}",
                         "run": "duplicate"})
            continue
        firsts[cid] = entry.address
        if isinstance(entry, CaptureLocation):
            opts = options_for(entry.address, options, mapping)
            fp = fingerprint(opts)
        else:   # listed again when the reason changes
            opts, fp = options, hashlib.sha256(f"{entry.status}:{entry.reason}".encode()).hexdigest()[:ID_DIGITS]
        earlier = None if force else done_row(root, cid, fp)
        if earlier is not None:
            rows.append({**earlier, "capture": entry.address, "run": "earlier"})
        else:
            tasks.append(Task(entry, opts, root if isinstance(root, str) else str(root.resolve()), fp, token))
    return _work_order(tasks), rows


def _work_order(tasks: list[Task]) -> list[Task]:
    """Members of a compressed tar in archive order (each worker then reads it forward
    once); everything else largest first, so one big capture does not finish last."""
    def streamed(t):
        hops = t.source.hops
        return bool(hops) and hops[0].archive == "tar" and hops[0].compression is not None

    archive = sorted((t for t in tasks if streamed(t)), key=lambda t: (t.source.path, t.source.hops[0].offset))
    rest = sorted((t for t in tasks if not streamed(t)), key=lambda t: -t.source.size)
    return archive + rest
