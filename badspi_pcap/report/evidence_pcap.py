"""``--evidence out.pcap``: just the frames that prove the findings, for Wireshark.

The frames are read again from the captures (by frame number) and written with
Scapy; captures with another link type go to a second file beside the first."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scapy.utils import RawPcapWriter

from ..capture.netscreen import iter_netscreen
from ..capture.pcap import iter_pcap
from ..capture.pcapng import iter_pcapng
from ..capture.scapy_reader import iter_scapy
from ..capture.source import open_capture
from ..output import atomic_path

IKE_NEARBY_S = 30.0


def evidence_frames(analysis) -> pd.DataFrame:
    """(capture, frame) of matched packets, ICMP errors behind capture-only findings, and
    IKE messages within 30 s of a matched line."""
    parts = [analysis.matches[["capture", "frame"]]]
    p = analysis.packets
    quoting = p[(p["kind"] == "icmp-error") & p["inner_spi"].notna()]
    parts.append(quoting[["capture", "frame"]])
    if len(analysis.matches):
        t = analysis.events.loc[analysis.matches["event"].unique(), "time"].astype("int64").to_numpy() / 1e9
        ike = p[p["kind"] == "ike"]
        it = ike["time"].astype("int64").to_numpy() / 1e9
        near = np.zeros(len(ike), dtype=bool)
        for x in t:
            near |= np.abs(it - x) <= IKE_NEARBY_S
        parts.append(ike.loc[near, ["capture", "frame"]])
    frames = pd.concat(parts).drop_duplicates()
    return frames.sort_values(["capture", "frame"]).reset_index(drop=True)


def write_evidence(analysis, path: str) -> list[tuple[str, int]]:
    """Write the evidence frames; returns [(file, frames written)]."""
    wanted = evidence_frames(analysis)
    by_capture = {c: set(g["frame"].astype(int)) for c, g in wanted.groupby("capture")}
    frames_by_linktype: dict[int, list] = {}
    for read in analysis.captures:
        want = by_capture.get(read.capture)
        if not want:
            continue
        for t_ns, linktype, data, wirelen in _frames(read.path, want):
            frames_by_linktype.setdefault(linktype, []).append((t_ns, data, wirelen))
    written = []
    base = Path(path)
    for i, (linktype, frames) in enumerate(sorted(frames_by_linktype.items(), key=lambda kv: -len(kv[1]))):
        target = base if i == 0 else base.with_name(f"{base.stem}-linktype{linktype}{base.suffix}")
        frames.sort(key=lambda f: f[0])
        with atomic_path(target) as tmp:
            writer = RawPcapWriter(tmp, linktype=linktype, nano=True, sync=True)
            writer.write_header(None)  # write_packet alone never writes the file header
            for t_ns, data, wirelen in frames:
                writer.write_packet(data, sec=t_ns // 1_000_000_000, usec=t_ns % 1_000_000_000, wirelen=wirelen)
            writer.close()
        written.append((str(target), len(frames)))
    if not written:
        with atomic_path(base) as tmp:
            writer = RawPcapWriter(tmp, linktype=1, nano=True, sync=True)
            writer.write_header(None)
            writer.close()
        written.append((str(base), 0))
    return written


def _frames(path: str, want: set[int]):
    opened = open_capture(path)
    skipped: list = []
    try:
        if opened.format == "netscreen":
            batches = iter_netscreen(opened.stream, path, skipped)
        elif opened.format == "pcap":
            batches = iter_pcap(opened.stream, path, skipped)
        elif opened.format == "pcapng":
            batches = iter_pcapng(opened.stream, path, skipped)
        else:
            batches = iter_scapy(opened.stream, opened.format, path, skipped)
        for batch in batches:
            for i in np.flatnonzero(np.isin(batch.frame, list(want))):
                a = int(batch.start[i])
                yield (int(batch.time_ns[i]), int(batch.linktype[i]),
                       batch.buf[a:a + int(batch.caplen[i])].tobytes(), int(batch.wirelen[i]))
    finally:
        opened.close()
