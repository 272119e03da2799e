"""Reading captures: ``read_capture`` (one file, with an account of what was not kept) and
``read_packets`` (many files, one ``packets`` table).

A file (pcap, pcapng, NetScreen snoop text; gzip/bzip2/xz compressed or not) is opened by
``source.py``, walked by its format's reader into ``FrameBatch``es (``frames.py``), decoded
and collected into Arrow chunks (``collect.py``).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

import pandas as pd

from .. import schema
from ..compressed import DecompressionLimit, stream_problems
from ..errors import InputError, Skipped, UsageError
from . import parallel
from .frames import FrameWalk
from .collect import Collected
from .decode import BatchCounts
from .linklayer import linktype_name
from .netscreen import iter_netscreen
from .pcap import PcapHeader, iter_pcap
from .pcapng import iter_pcapng, section_header
from .source import OpenedCapture, open_capture

ENGINES = ("auto", "scapy")
# format: (header check, raising ValueError on a bad header; walk)
OWN_WALKS: dict[str, tuple[Callable[[bytes], object], Callable[..., FrameWalk]]] = {
    "pcap": (PcapHeader, iter_pcap), "pcapng": (section_header, iter_pcapng)}


class CaptureWarning(UserWarning):
    """Part of a capture could not be read; the message says which part and why."""


@dataclass
class CaptureContents:
    """What one capture holds: its IPsec-relevant packets and an account of everything else
    (counts of what was not kept, link types, first/last time, what was skipped)."""

    capture: str
    path: str
    format: str
    compression: str | None
    engine: str
    packets: pd.DataFrame
    counts: BatchCounts
    linktypes: dict[str, int] = field(default_factory=dict)
    first_time: pd.Timestamp | None = None
    last_time: pd.Timestamp | None = None
    size: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> dict:
        """One flat record (for batch summaries and reports)."""
        kinds = self.packets["kind"].value_counts().to_dict() if len(self.packets) else {}
        return {
            "capture": self.capture, "path": self.path, "format": self.format,
            "compression": self.compression, "size": self.size, "frames": self.counts.frames,
            "ip_frames": self.counts.ip_frames, "later_fragments": self.counts.later_fragments,
            "truncated_frames": self.counts.truncated, "first_time": self.first_time,
            "last_time": self.last_time, "linktypes": ", ".join(f"{k} ({v})" for k, v in self.linktypes.items()),
            "ipsec_rows": len(self.packets), **{f"rows_{k}": int(v) for k, v in kinds.items()},
            "skipped": len(self.skipped),
        }


CaptureRead = CaptureContents   # its name up to 0.1.0, still exported by the package


def read_capture(path: str | os.PathLike, *, name: str | None = None, engine: str = "auto",
                 progress: Callable[[int], None] | None = None, stream: BinaryIO | None = None,
                 size: int | None = None, decompression_limit: DecompressionLimit | bool | None = None,
                 jobs: int | None = None) -> CaptureContents:
    """Read one capture file.

    ``engine="auto"`` walks pcap and pcapng with the project's own readers;
    ``engine="scapy"`` uses Scapy's raw readers for both (the reference).
    ``progress`` is called with the number of bytes of the file consumed so far.
    Raises InputError when the file cannot be read at all; damage after a readable
    start is reported in ``skipped`` and everything before it is kept.
    ``stream`` (with its ``size`` in bytes) is read instead of opening ``path``, which
    then only labels the capture: see ``open_capture``.
    ``decompression_limit`` stops a gzip/bzip2/xz stream that expands more than 100:1
    (beyond 64 MiB) or past 64 GiB, keeping what came before: None for that default
    (lifted by the environment variable BADSPI_NO_DECOMPRESSION_LIMIT=1), False for no
    limit, or a ``DecompressionLimit``.
    ``jobs`` > 1 reads a big (32 MiB or more) uncompressed pcap or pcapng file in byte
    ranges on that many processes (0: one per core); the table is the same as on one.
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    path = str(path)
    name = name or Path(path).name
    opened = open_capture(path, stream=stream, decompression_limit=decompression_limit)
    skipped: list[Skipped] = []
    tick = (lambda: progress(opened.raw.tell())) if progress else None
    try:
        own = opened.format in OWN_WALKS and engine == "auto"
        if own:
            try:
                OWN_WALKS[opened.format][0](opened.head)
            except ValueError as e:
                raise InputError(f"{path}: {e}") from None
        whole = os.path.getsize(path) if own and stream is None and opened.compression is None else 0
        if own and parallel.can_split(whole, _jobs(jobs)):
            got, more = parallel.read_parallel(path, opened.format, name, whole, _jobs(jobs), progress)
            skipped.extend(more)
            used = "own"
        else:
            walk, used = walk_frames(opened, name, engine, tick)
            got = Collected(name)
            for batch in walk:
                got.add(batch)
            skipped.extend(walk.skipped)
        size = os.path.getsize(path) if size is None else size
        problems = stream_problems(opened.stream)
        if problems.error:
            skipped.append(Skipped(name, "reader", f"{opened.compression} stream ends early or is corrupt "
                                                   f"({problems.error}); kept the packets before it"))
        if problems.limited:
            skipped.append(Skipped(name, "reader", f"{opened.compression}: {problems.limited}; kept the packets "
                                                   "before it"))
        if problems.trailing:
            skipped.append(Skipped(name, "reader", f"{opened.compression}: {problems.trailing}"))
    finally:
        opened.close()
    counts = got.counts
    for lt, n in counts.unsupported_linktype.items():
        skipped.append(Skipped(name, "link layer", f"{n} frames of unsupported {linktype_name(lt)} not decoded", n))
    if counts.frames == 0 and not skipped:
        skipped.append(Skipped(name, "file", "no packets in the capture"))
    table = got.table()
    return CaptureContents(
        capture=name, path=path, format=opened.format, compression=opened.compression, engine=used,
        packets=schema.to_frame(table), counts=counts, linktypes=got.linktypes,
        first_time=_ts(got.first), last_time=_ts(got.last), size=size, skipped=skipped,
    )


def _jobs(jobs: int | None) -> int:
    if jobs is not None and jobs < 0:
        raise UsageError(f"jobs must be 0 (one per core) or more, not {jobs}")
    return parallel.available_cpus() if jobs == 0 else (jobs or 1)


def walk_frames(opened: OpenedCapture, name: str, engine: str = "auto",
                progress: Callable[[], None] | None = None) -> tuple[FrameWalk, str]:
    """The frame batches of an opened capture, walked by the reader its format and ``engine``
    call for (named in the second value: own | netscreen | scapy): every reader user walks
    frames through here.  A compressed stream that breaks ends the walk (said in
    ``skipped``) instead of raising."""
    if opened.format == "netscreen":
        walk, used = iter_netscreen(opened.stream, name, progress), "netscreen"
    elif opened.format in OWN_WALKS and engine == "auto":
        walk, used = OWN_WALKS[opened.format][1](opened.stream, name, progress), "own"
    else:
        from .scapy_reader import iter_scapy     # the reference reader: Scapy is imported only for it
        walk, used = iter_scapy(opened.stream, opened.format, name, progress), "scapy"
    return FrameWalk(_guarded(walk, opened.compression, walk.skipped, name), walk.skipped), used


def _guarded(batches, compression, skipped: list[Skipped], name: str):
    """Stop cleanly at a corrupt compressed stream, keeping what came before."""
    import lzma
    import zlib
    try:
        yield from batches
    except (EOFError, zlib.error, lzma.LZMAError, OSError) as e:
        what = f"{compression} stream" if compression else "file"
        skipped.append(Skipped(name, "reader", f"{what} ends early or is corrupt ({e}); kept the packets before it"))


def _ts(ns: int | None):
    return None if ns is None else pd.Timestamp(ns, unit="ns", tz="UTC")


def read_packets(paths: str | os.PathLike | Iterable[str | os.PathLike], *, engine: str = "auto",
                 decompression_limit: DecompressionLimit | bool | None = None, jobs: int | None = None) -> pd.DataFrame:
    """The ``packets`` table of one or more captures (see README for the columns).

    Damage inside a capture is reported with a ``CaptureWarning`` per problem; files
    that cannot be read at all raise InputError.  ``decompression_limit`` and ``jobs``:
    as for ``read_capture``.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    names = capture_names(paths)
    frames = []
    for path, name in zip(paths, names):
        result = read_capture(path, name=name, engine=engine, decompression_limit=decompression_limit, jobs=jobs)
        for s in result.skipped:
            warnings.warn(str(s), CaptureWarning, stacklevel=2)
        frames.append(result.packets)
    if not frames:
        return schema.empty(schema.PACKETS)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def capture_names(paths) -> list[str]:
    """File names identify captures; full paths only where two names collide."""
    base = [Path(p).name for p in paths]
    return [b if base.count(b) == 1 else str(p) for b, p in zip(base, paths)]
