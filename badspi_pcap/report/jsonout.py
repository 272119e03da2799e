"""The analysis as JSON (``--format json``).  The layout is versioned; see README."""
from __future__ import annotations

import dataclasses
import json
import math

import pandas as pd

from ..vendors import REPLAY_SOURCES
from .common import action, evidence_pairs, records, summary

SCHEMA_VERSION = 2


def _plain(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def analysis_dict(analysis, evidence: int = 10) -> dict:
    findings = []
    for f in records(analysis.findings):
        item = {k: _plain(v) for k, v in f.items() if k != "facts"}
        item["facts"] = json.loads(f["facts"]) if f["facts"] else {}
        item["summary"] = summary(f)
        item["action"] = action(f)
        pairs = evidence_pairs(analysis, f, evidence)
        item["evidence_pairs"] = [{k: _plain(v) for k, v in p.items()} for p in pairs.to_dict("records")]
        findings.append(item)
    off = analysis.clock_offset
    return {
        "schema_version": SCHEMA_VERSION,
        "captures": [{k: _plain(v) for k, v in r.summary().items()} for r in analysis.captures],
        "log": {
            "events": int(len(analysis.events)),
            "bad_spi_lines": int(analysis.events["kind"].eq("bad-spi").sum()),
            "replay_lines": int(analysis.events["kind"].eq("replay").sum()),
            "unparsed_lines": analysis.unparsed_lines,
            "notes": list(analysis.log_notes),
        },
        "clock_offset": {"seconds": off.seconds, "method": off.method, "matches": off.matches,
                         "candidates": off.candidates, "spread": off.spread, "text": off.describe(),
                         "notes": [dataclasses.asdict(n) for n in analysis.clock_notes]},
        "device_addresses": list(analysis.local_addresses),
        "options": {k: _plain(v) for k, v in dataclasses.asdict(analysis.options).items()},
        "thresholds": analysis.thresholds.as_dict(),
        "vendors": [_profile(p) for p in analysis.vendors],
        "headline": _headline(analysis),
        "findings": findings,
        "skipped": [str(s) for s in analysis.skipped],
    }


def _headline(analysis) -> str:
    from .common import headline
    return headline(analysis.findings)


def _profile(p) -> dict:
    """A vendor profile with its sources, for the record of what the advice rests on."""
    def fact(f):
        return {"text": f.text, "source": str(f.source) if f.source else None}
    return {"key": p.key, "name": p.name, "bad_spi_rate_limit_s": p.bad_spi_rate_limit_s,
            "rate_limit": fact(p.rate_limit), "replay_window": p.replay_window,
            "replay_window_fact": fact(p.replay_window_fact), "icmp_quote": fact(p.icmp_quote),
            "version_command": p.version_command, "sa_command": p.sa_command,
            "replay_sources": [str(s) for s in REPLAY_SOURCES.get(p.key, ())]}


def render_json(analysis) -> str:
    return json.dumps(analysis_dict(analysis), indent=2, ensure_ascii=False)
