"""The per-capture check a batch runs on each capture (``check_capture``), its summary
row, and ``run_task``: what a worker runs (check one capture, write its rows)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, cast

import pandas as pd

from ..archive import CaptureLocation, HashingReader, Unread, open_source
from ..compressed import stream_problems
from ..errors import BadspiError, InputError, OutputError, Skipped, os_error_text, without_content
from ..masks import distinct_numbers, kind_counts, kind_in
from ..notation import spi_texts
from ..options import AnalysisOptions
from ..schema import IPSEC_KINDS
from ..storage import stat
from .dataset import write_result
from .inputs import capture_id

STRONG = ("confirmed", "likely")


@dataclass(frozen=True)
class CheckOptions(AnalysisOptions):
    """How one capture is analysed: the logs mapped to it and the analysis options."""

    events: tuple[str, ...] = ()
    sas: tuple[str, ...] = ()

    def analysis(self) -> AnalysisOptions:
        return AnalysisOptions(**{k: getattr(self, k) for k in AnalysisOptions.names()})


@dataclass
class CaptureCheck:
    """What ``check_capture`` found: the three tables' rows for one capture."""

    summary: dict
    packets: pd.DataFrame | None = None
    findings: pd.DataFrame | None = None


@dataclass(frozen=True)
class Task:
    source: CaptureLocation | Unread
    options: CheckOptions
    dataset: str
    fingerprint: str
    token: str | None = None      # the run's lock token: nothing is written once it is not ours


def check_capture(source: CaptureLocation, options: CheckOptions = CheckOptions()) -> CaptureCheck:
    """Read and analyse one capture; never raises for a bad capture (status says)."""
    from ..analysis import analyze
    from ..capture import read_capture

    base = entry_row(source)
    try:
        size = source.size or (0 if source.hops else stat(source.path)[0])
        with open_source(source) as stream:
            reader = HashingReader(stream)
            read = read_capture(source.address, name=source.address, engine=options.engine,
                                stream=cast(BinaryIO, reader), size=size)
            digest = reader.finish()
            if error := stream_problems(stream).error:
                read.skipped.append(Skipped(source.address, "archive", f"{error}; kept what was there"))
        if source.sha256 and digest != source.sha256:
            raise InputError(f"{source.address}: content changed while the batch ran; run it again")
        analysis = analyze([read], list(options.events), list(options.sas), options.analysis())
    except BadspiError as e:
        return CaptureCheck({**base, "status": "error",
                              "error": without_content(str(e).removeprefix(f"{source.address}: "))})
    except Exception as e:  # a bug, or a worker out of memory: listed and retried next run
        return CaptureCheck({**base, "status": "failed", "error": f"internal error: {type(e).__name__}: {e}"})
    findings = analysis.findings.copy()
    findings.insert(0, "capture", source.address)
    return CaptureCheck(_summary_row(base, read, analysis, options), read.packets, findings)


def entry_row(entry) -> dict:
    return {"capture_id": capture_id(entry), "capture": entry.address, "sha256": entry.sha256,
            "path": entry.path, "member": entry.member, "size": entry.size}


def _summary_row(base: dict, read, analysis, options: CheckOptions) -> dict:
    from ..correlation import quotes_ipsec
    from ..report.common import by_tunnel, headline

    p = read.packets
    kinds = kind_counts(p)
    spis = distinct_numbers(p, "spi", kind_in(p, IPSEC_KINDS))
    is_icmp = kind_in(p, "icmp-error")
    icmp_errors = int(is_icmp.sum())
    quoted = distinct_numbers(p, "inner_spi", is_icmp)
    f = analysis.findings
    strong = f[f["verdict"].isin(STRONG)].sort_values("lines_explained", ascending=False, kind="stable") \
        if len(f) else f
    logs = list(options.events) + list(options.sas)
    skipped = analysis.skipped
    first, last = read.first_time, read.last_time
    return {
        **base, "status": "ok", "error": None, "format": read.format, "compression": read.compression,
        "frames": read.counts.frames, "ipsec_packets": len(p),
        "esp": int(kinds.get("esp", 0)), "ah": int(kinds.get("ah", 0)),
        "esp_in_udp": int(kinds.get("esp-in-udp", 0)), "ike": int(kinds.get("ike", 0)),
        "icmp_errors": icmp_errors, "icmp_errors_ipsec": int(quotes_ipsec(p).sum()) if icmp_errors else 0,
        "first_time": first, "last_time": last,
        "duration_s": (last - first).total_seconds() if first is not None else None,
        "linktypes": ", ".join(read.linktypes) or None,
        "spis": len(spis), "spi_list": spi_texts(spis, " ") or None,
        "quoted_spis": spi_texts(quoted, " ") or None,
        "tunnels": (", ".join(t for t, _ in by_tunnel(f)) or None) if len(f) else None,
        "logs": "; ".join(logs) or None,
        "bad_spi_lines": len(analysis.lines),
        "clock_offset_s": float(analysis.clock_offset.seconds) if logs else None,
        "findings": len(f),
        "verdicts": (headline(f) or None) if len(f) else None,
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
        result = CaptureCheck({**entry_row(entry), "status": entry.status, "error": entry.reason})
    else:
        result = check_capture(task.source, task.options)
    try:
        write_result(result, task.dataset, task.fingerprint, task.token)
    except OSError as e:   # a full disk, a read-only folder: the environment, not the capture
        raise OutputError(f"{e.filename or task.dataset}: cannot write: {os_error_text(e)}") from None
    return result.summary

