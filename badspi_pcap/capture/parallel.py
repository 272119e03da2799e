"""One big capture on several cores: the file is cut into byte ranges, one process reads each.

A worker does not know where the first record of its range begins: it searches for
the first offset from which a chain of plausible records (pcap) or blocks whose two
lengths agree (pcapng) follows, and reads the records that start before the next
range.  It also says where it stopped: the start of the first record past its range.
The parent then checks that every range began exactly where the one before it stopped
(and, for pcapng, in the same section state); a range that did not is read again from
the right place.  Frame numbers are counted per range and shifted when the ranges are
joined in file order, so the result is the one-core table, exactly.

A part's table does not travel back through the pool's pipe (pickled, piped and
unpickled: three copies and most of the parent's time): the worker writes it as an
Arrow IPC file in shared memory (/dev/shm) and the parent maps that file, without
copying it, and unlinks it at once.  Where there is no room for the file, the table
travels through the pipe as before.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import struct
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..errors import Skipped
from .frames import among
from .collect import Collected
from .pcap import PcapHeader, PcapWalker, WalkEnd, iter_pcap
from .pcapng import (
    KNOWN_BLOCKS,
    SHB,
    PcapngWalker,
    Section,
    iter_pcapng,
    section_header,
)
from .windows import Windows

RANGE_MIN = 32 << 20      # bytes; smaller files are read on one core
RANGES_PER_JOB = 4        # more ranges than workers: a slow worker holds up less
SEARCH = 4 << 20          # how far into its range a worker looks for the first record
CHAIN = 4                 # records that must follow a range's first record


@dataclass
class Part:
    start: int                       # where this part began (its first record), -1: no record found
    end: int | None                  # the first record after it (None: the part reads to the end of the file)
    collected: Collected             # the part's table (frames numbered from 1), counts, link types, times
    skipped: list[Skipped]
    frames: int
    state: Section | None = None     # pcapng: section state at the start (assumed) ...
    end_state: Section | None = None  # ... and at the end
    size: int = 0
    file: str | None = None          # where the worker left the part's table (its chunks then travel empty)


@dataclass
class Task:
    path: str
    fmt: str
    name: str
    begin: int                       # the range's first byte
    stop: int | None                 # the next range's first byte (None: to the end)
    exact: bool = False              # begin is a record start (no search)
    state: Section | None = None
    ref_sec: int = 0                 # pcap: seconds of the first record (plausibility)


def available_cpus() -> int:
    """The CPUs this process may run on: its CPU affinity where the system keeps one
    (Linux), else every CPU of the machine (macOS and Windows have no sched_getaffinity)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_split(size: int, jobs: int | None) -> bool:
    return bool(jobs and jobs > 1 and size >= 2 * RANGE_MIN)


def read_parallel(path: str, fmt: str, name: str, size: int, jobs: int, progress=None):
    """(Collected, skipped) of the whole file, read in ranges by ``jobs`` processes."""
    head = _head(path, fmt)
    count = max(2, min(jobs * RANGES_PER_JOB, size // RANGE_MIN))
    edges = [head["start"]] + [size * k // count for k in range(1, count)] + [None]
    tasks = [Task(path, fmt, name, edges[k], edges[k + 1], exact=k == 0, state=head.get("state"),
                  ref_sec=head.get("ref_sec", 0)) for k in range(count)]
    parts: list[Part | None] = [None] * count
    done = 0
    folder = _shared_folder()
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=_context()) as pool:
            futures = {pool.submit(read_range_to, t, folder and os.path.join(folder, f"{k}.arrow")): k
                       for k, t in enumerate(tasks)}
            for future in as_completed(futures):
                parts[futures[future]] = part = _received(future.result())
                done += part.size
                if progress:
                    progress(min(done, size))
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    read = [p for p in parts if p is not None]
    assert len(read) == count   # as_completed gave every range
    # Join: each part must begin where the one before ended; read again those that do not.
    out, skipped = Collected(name), []
    at: int | None = read[0].start
    state = read[0].state
    frames = 0
    for k, part in enumerate(read):
        if at is None:   # the part before read on to the end of the file: it has every frame left
            break
        if part.start != at or (fmt == "pcapng" and _key(part.state) != _key(state)):
            part = read_range(Task(path, fmt, name, at, tasks[k].stop, exact=True, state=state))
        out.extend(part.collected, frames)
        skipped.extend(part.skipped)
        frames += part.frames
        at, state = part.end, part.end_state
    return out, skipped


def read_range_to(task: Task, file: str | None) -> Part:
    """``read_range`` in a worker: the part's table is left in ``file`` for the parent to map
    (None, or no room for it there: the table goes back with the part, through the pipe)."""
    part = read_range(task)
    got = part.collected
    if file is None or not _room_for(got.chunks, file):
        return part
    try:
        with pa.OSFile(file, "wb") as sink, pa.ipc.new_file(sink, got.chunks[0].schema) as writer:
            for chunk in got.chunks:
                writer.write_table(chunk)
    except OSError:   # full after all (another worker wrote meanwhile): through the pipe
        _remove(file)
        return part
    got.chunks, part.file = [], file
    return part


def _received(part: Part) -> Part:
    """The part with its table back in its chunks: the worker's file mapped (no copy) and
    unlinked at once (the mapping stays valid until the table is freed)."""
    if part.file:
        table = pa.ipc.open_file(pa.memory_map(part.file)).read_all()
        _remove(part.file)
        part.collected.chunks, part.file = [table], None
    return part


def _shared_folder() -> str | None:
    """A fresh folder in memory-backed /dev/shm for the parts' tables; None where there is
    none (macOS, Windows: the tables go through the pipe)."""
    try:
        return tempfile.mkdtemp(prefix="badspi-parts-", dir="/dev/shm") if os.path.isdir("/dev/shm") else None
    except OSError:
        return None


def _room_for(chunks: list, file: str) -> bool:
    """Leave /dev/shm at least half free: it is often small (64 MiB in a container) and shared."""
    if not chunks:
        return False
    need = sum(chunk.nbytes for chunk in chunks) + (1 << 20)
    try:
        fs = os.statvfs(os.path.dirname(file))
    except OSError:
        return False
    return need <= fs.f_bavail * fs.f_frsize - fs.f_blocks * fs.f_frsize // 2


def _remove(file: str) -> None:
    try:
        os.unlink(file)
    except OSError:
        pass


def _key(state: Section | None):
    return None if state is None else state.key()


def _context():
    methods = multiprocessing.get_all_start_methods()
    # fork: workers start at once and share the parent's imports; they only run NumPy
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _head(path: str, fmt: str) -> dict:
    """Where the records begin, and what a worker needs to know from the file's start."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    if fmt == "pcap":
        hdr = PcapHeader(head)
        ref = struct.unpack_from(hdr.endian + "I", head, 24)[0] if len(head) >= 28 else 0
        return {"start": 24, "ref_sec": ref}
    # pcapng: the state after the first section header and the interfaces that follow it
    endian, blen = section_header(head)
    state = Section(endian)
    from .pcapng import IDB, interface
    off = blen
    while off + 12 <= len(head):
        btype, length = struct.unpack_from(endian + "II", head, off)
        if btype != IDB or length < 20 or off + length > len(head):
            break
        state.interfaces.append(interface(head[off + 8:off + length - 4], endian))
        off += length
    return {"start": 0, "state": Section(endian, list(state.interfaces))}


def read_range(task: Task) -> Part:
    """Read the records that start in ``[begin, stop)`` (after finding the first one)."""
    ended = WalkEnd()
    got = Collected(task.name)
    with open(task.path, "rb") as stream:
        start = task.begin if task.exact else _first_record(stream, task)
        state = task.state if task.fmt == "pcapng" else None
        if start is None or (task.stop is not None and start >= task.stop):
            # no record starts in this range: the one before reads on into the next
            end = task.stop if start is None else start
            return Part(start=-1 if start is None else start, end=end, collected=got, skipped=[], frames=0,
                        state=state, end_state=state, size=_size(task, stream))
        stream.seek(0)
        if task.fmt == "pcap":
            batches = iter_pcap(stream, task.name, start=start, stop=task.stop, ended=ended)
        else:
            section = Section(state.endian, list(state.interfaces)) if state else None
            batches = iter_pcapng(stream, task.name, start=start, stop=task.stop, section=section, ended=ended)
        for batch in batches:
            got.add(batch)
        skipped = batches.skipped
        size = _size(task, stream)
    got.table()   # the table is built here, in parallel; the parent only joins the parts
    return Part(start=start, end=ended.offset, collected=got, skipped=skipped, frames=ended.frames,
                state=state, end_state=getattr(ended, "section", None), size=size)


def _size(task: Task, stream) -> int:
    end = task.stop if task.stop is not None else os.fstat(stream.fileno()).st_size
    return max(0, end - task.begin)


def _first_record(stream, task: Task) -> int | None:
    """The first offset at or after ``task.begin`` from which CHAIN records follow: searched
    in 64 KiB first (a record is rarely longer), then further, up to SEARCH bytes."""
    for span in (64 << 10, 1 << 20, SEARCH):
        found = _first_record_within(stream, task, span)
        if found is not None or span >= SEARCH:
            return found
    return None


def _first_record_within(stream, task: Task, span: int) -> int | None:
    windows = Windows(stream)
    begin = task.begin + (-task.begin % 4 if task.fmt == "pcapng" else 0)
    data, eof = windows.view(begin, span + (256 << 10))
    end = len(data)
    if task.fmt == "pcap":
        stream.seek(0)
        hdr = PcapHeader(stream.read(24))
        frac_limit = 1_000_000_000 if hdr.nano else 1_000_000
        walker: PcapWalker | PcapngWalker = PcapWalker(data, end, hdr, frac_limit)
        w = walker.words
        n = min(span, max(end - 16, 0))
        if n <= 0:
            return None
        sec, frac, cap, wire = (w[k:k + n].astype(np.int64) for k in (0, 4, 8, 12))
        year = 366 * 86400
        ok = ((frac < frac_limit) & (cap <= hdr.max_caplen) & (wire >= cap) & (wire <= 1 << 24)
              & (sec >= task.ref_sec - year) & (sec <= task.ref_sec + 10 * year))
        cand = np.flatnonzero(ok)
    else:
        walker = PcapngWalker(data, end, task.state.endian if task.state else "<")
        w = walker.words
        n = min(span // 4, max(len(w) - 3, 0))
        cand = np.flatnonzero(among(w[:n], KNOWN_BLOCKS) & (w[:n] != SHB)) * 4
    pos, alive = cand.astype(np.int64), np.ones(len(cand), dtype=bool)
    for _ in range(CHAIN):
        nxt, ok = walker.step(pos)
        at_end = eof & (pos == end)       # the file ends exactly after a record: fine
        alive &= ok | at_end
        pos = np.where(ok, nxt, pos)
    good = cand[alive]
    return begin + int(good[0]) if len(good) else None
