"""``--evidence out.pcapng``: just the frames that prove the findings, for Wireshark.

The frames are read again from the captures (by frame number).  A pcapng file (the
default) holds every link type in one file and gives each frame a comment, shown in
Wireshark's packet list and by ``tshark -Y frame.comment``: the log line it explains
(file:line), the cause and verdict of that line, and ``dt``; the first frame also
carries the command, the clock offset and the display filters.  A name ending in
``.pcap`` or ``.cap`` gets classic pcap without comments (a second file per other link type).
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
from scapy.utils import RawPcapWriter

from ..capture import walk_frames
from ..capture.source import open_capture
from ..errors import printable
from ..notation import NS_PER_S, spi_text
from ..output import atomic_path

IKE_NEARBY_S = 30.0
TEXT_CHARS = 200            # of a log line quoted in a comment
MAX_COMMENT_BYTES = 60_000  # a pcapng option holds at most 65535 bytes


def evidence_frames(analysis) -> pd.DataFrame:
    """(capture, frame) of every finding's evidence (where findings list it), matched
    packets, ICMP errors quoting IPsec, and IKE messages within 30 s of a matched line."""
    parts = [analysis.matches[["capture", "frame"]]]
    p = analysis.packets
    quoting = p[(p["kind"] == "icmp-error") & p["inner_spi"].notna()]
    parts.append(quoting[["capture", "frame"]])
    listed = _finding_evidence(analysis)
    if listed:
        parts.append(pd.DataFrame(list(listed), columns=["capture", "frame"]))
    if len(analysis.matches):
        ike = p[p["kind"] == "ike"]
        parts.append(ike.loc[_nearest_line(analysis, ike).notna(), ["capture", "frame"]])
    frames = pd.concat([f.astype({"capture": object, "frame": "int64"}) for f in parts]).drop_duplicates()
    return frames.sort_values(["capture", "frame"]).reset_index(drop=True)


def write_evidence(analysis, path: str, command: str | None = None) -> list[tuple[str, int]]:
    """Write the evidence frames; returns [(file, frames written)].  ``command`` is the
    command line that made the analysis (for the first frame's comment)."""
    wanted = evidence_frames(analysis)
    by_capture = {c: set(g["frame"].astype(int)) for c, g in wanted.groupby("capture")}
    frames = []  # (time ns, link type, bytes, wire length, capture, frame number)
    for read in analysis.captures:
        want = by_capture.get(read.capture)
        if want:
            frames += [(*f, read.capture) for f in _frames(read.path, want)]
    frames.sort(key=lambda f: f[0])
    if Path(path).suffix.lower() in (".pcap", ".cap"):
        return _write_pcap(frames, Path(path))
    comments = frame_comments(analysis)
    header = run_comment(analysis, command)
    _write_pcapng(frames, Path(path), comments, header)
    return [(str(path), len(frames))]


def finding_of_lines(analysis) -> dict[int, tuple[str, str]]:
    """event id -> (cause, verdict of that cause's finding on the line's tunnel)."""
    findings = analysis.findings
    if "event_ids" in findings.columns:    # findings that list their lines (the causes/ engine)
        out: dict[int, tuple[str, str]] = {}
        for ids, cause, verdict in zip(findings["event_ids"], findings["cause"], findings["verdict"]):
            for i in ids if ids is not None and not isinstance(ids, float) else ():
                out.setdefault(int(i), (cause, verdict))
        return out
    lines = analysis.lines
    if lines is None or lines.empty:
        return {}
    verdicts = {(t, c): v for t, c, v in analysis.findings[["tunnel", "cause", "verdict"]].itertuples(index=False)}
    return {int(i): (c, verdicts.get((t, c), c)) for i, t, c in zip(lines.index, lines["tunnel"], lines["cause"])}


def frame_comments(analysis) -> dict[tuple[str, int], list[str]]:
    """(capture, frame) -> why it is evidence, one sentence per log line it explains."""
    comments: dict[tuple[str, int], list[str]] = {}
    events, findings = _events_by_id(analysis), finding_of_lines(analysis)
    event = _event_column(analysis.matches)
    for m in analysis.matches.itertuples(index=False):
        ev = events.loc[getattr(m, event)]
        cause, verdict = findings.get(int(getattr(m, event)), ("-", "-"))
        text = printable(str(ev["text"]))
        text = text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "..."
        comments.setdefault((m.capture, int(m.frame)), []).append(
            f"{ev['source']}:{ev['line']}: {text} | cause {cause}, {verdict} | dt {float(m.dt):+.3f} s"
            f" ({m.role}, {m.key})")
    p = analysis.packets
    for row in p[(p["kind"] == "icmp-error") & p["inner_spi"].notna()].itertuples(index=False):
        if (row.capture, int(row.frame)) not in comments:
            seq = f" SEQ 0x{int(row.inner_seq):x}" if pd.notna(row.inner_seq) else ""
            comments[(row.capture, int(row.frame))] = [
                f"ICMP error from {row.src} quoting SPI {spi_text(row.inner_spi)}{seq}; no log line names this packet"]
    ike = p[p["kind"] == "ike"]
    for row, near in zip(ike.itertuples(index=False), _nearest_line(analysis, ike)):
        if pd.notna(near) and (row.capture, int(row.frame)) not in comments:
            ev = events.loc[near]
            exchange = f" {row.ike_exchange}" if pd.notna(row.ike_exchange) else ""
            comments[(row.capture, int(row.frame))] = [
                f"IKE{exchange} within {IKE_NEARBY_S:.0f} s of {ev['source']}:{ev['line']}"]
    for ref, (tunnel, cause, verdict) in _finding_evidence(analysis).items():
        comments.setdefault(ref, [f"evidence of {cause} ({verdict}) on {tunnel}"])
    return comments


def _finding_evidence(analysis) -> dict[tuple[str, int], tuple[str, str, str]]:
    """(capture, frame) -> (tunnel, cause, verdict) of the first finding that lists the
    frame as its evidence (findings of the causes/ engine do)."""
    f = analysis.findings
    if "evidence" not in f.columns:
        return {}
    out: dict[tuple[str, int], tuple[str, str, str]] = {}
    for refs, tunnel, cause, verdict in zip(f["evidence"], f["tunnel"], f["cause"], f["verdict"]):
        for ref in refs if isinstance(refs, (list, tuple, np.ndarray)) else ():
            out.setdefault((ref["capture"], int(ref["frame"])), (tunnel, cause, verdict))
    return out


def _events_by_id(analysis) -> pd.DataFrame:
    """The events table looked up by event id (its ``event_id`` column where it has one)."""
    events = analysis.events
    return events.set_index("event_id", drop=False) if "event_id" in events.columns else events


def _event_column(matches: pd.DataFrame) -> str:
    return "event_id" if "event_id" in matches.columns else "event"   # the causes/ engine names it event_id


def run_comment(analysis, command: str | None) -> str:
    filters = [f for f in analysis.findings.get("display_filter", pd.Series(dtype=str)).dropna() if f]
    return printable(f"badspi evidence: {command or '(Python API)'} | clock offset {analysis.clock_offset.describe()}"
                     f" | filters: {' ; '.join(dict.fromkeys(filters)) or 'none'}")


def _nearest_line(analysis, ike: pd.DataFrame) -> pd.Series:
    """For each IKE packet, the matched line within 30 s of it (nearest), else NA."""
    out = pd.Series(pd.NA, index=ike.index, dtype="object")
    if not len(analysis.matches) or ike.empty:
        return out
    times = _events_by_id(analysis).loc[analysis.matches[_event_column(analysis.matches)].unique(), "time"]
    times = times.dropna().sort_values()
    if times.empty:
        return out
    ids = times.index.to_numpy()
    t = times.astype("int64").to_numpy()
    it = ike["time"].astype("int64").to_numpy()
    right = np.clip(np.searchsorted(t, it), 1, len(t) - 1) if len(t) > 1 else np.zeros(len(it), dtype=int)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(t[left] - it) <= np.abs(t[right] - it), left, right)
    close = np.abs(t[nearest] - it) <= IKE_NEARBY_S * NS_PER_S
    out[close] = ids[nearest[close]]
    return out


def _write_pcap(frames, base: Path) -> list[tuple[str, int]]:
    by_linktype: dict[int, list] = {}
    for t_ns, linktype, data, wirelen, *_ in frames:
        by_linktype.setdefault(linktype, []).append((t_ns, data, wirelen))
    written = []
    for i, (linktype, group) in enumerate(sorted(by_linktype.items(), key=lambda kv: -len(kv[1]))):
        target = base if i == 0 else base.with_name(f"{base.stem}-linktype{linktype}{base.suffix}")
        with atomic_path(target) as tmp:
            writer = RawPcapWriter(tmp, linktype=linktype, nano=True, sync=True)
            writer.write_header(None)  # write_packet alone never writes the file header
            for t_ns, data, wirelen in group:
                writer.write_packet(data, sec=t_ns // NS_PER_S, usec=t_ns % NS_PER_S, wirelen=wirelen)
            writer.close()
        written.append((str(target), len(group)))
    if not written:
        with atomic_path(base) as tmp:
            writer = RawPcapWriter(tmp, linktype=1, nano=True, sync=True)
            writer.write_header(None)
            writer.close()
        written.append((str(base), 0))
    return written


# pcapng (draft-ietf-opsawg-pcapng): section header, one interface per link type with
# nanosecond timestamps (if_tsresol 9), enhanced packet blocks with opt_comment (code 1).

def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _comment(text: str) -> bytes:
    return _option(1, text.encode("utf-8")[:MAX_COMMENT_BYTES].decode("utf-8", "ignore").encode("utf-8"))


def _write_pcapng(frames, path: Path, comments: dict, header: str) -> None:
    interfaces: dict[int, int] = {}
    blocks = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)   # the file's comment too
                     + _comment(header) + _option(4, b"badspi_pcap") + _option(0, b""))]
    for linktype in dict.fromkeys(f[1] for f in frames) or [1]:
        interfaces[linktype] = len(interfaces)
        blocks.append(_block(1, struct.pack("<HHI", linktype, 0, 0) + _option(9, b"\x09") + _option(0, b"")))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"".join(blocks))
            for n, (t_ns, linktype, data, wirelen, frame, capture) in enumerate(frames):
                notes = ([header] if n == 0 else []) + comments.get((capture, frame), [])
                options = b"".join(_comment(c) for c in notes) + (_option(0, b"") if notes else b"")
                body = (struct.pack("<IIIII", interfaces[linktype], t_ns >> 32, t_ns & 0xFFFFFFFF, len(data), wirelen)
                        + data + b"\0" * (-len(data) % 4) + options)
                f.write(_block(6, body))


def _frames(path: str, want: set[int]):
    opened = open_capture(path)
    try:
        walk, _ = walk_frames(opened, path)   # what it skips was said when the capture was read
        for batch in walk:
            for i in np.flatnonzero(np.isin(batch.frame, list(want))):
                a = int(batch.start[i])
                yield (int(batch.time_ns[i]), int(batch.linktype[i]),
                       batch.buf[a:a + int(batch.caplen[i])].tobytes(), int(batch.wirelen[i]), int(batch.frame[i]))
    finally:
        opened.close()
