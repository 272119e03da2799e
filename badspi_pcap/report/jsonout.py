"""The analysis as JSON (``--format json``).  The layout is versioned; see README."""
from __future__ import annotations

import json
import math

import pandas as pd

from .common import evidence_pairs

SCHEMA_VERSION = 1


def _plain(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def analysis_dict(analysis, evidence: int = 10) -> dict:
    findings = []
    for _, f in analysis.findings.iterrows():
        item = {k: _plain(v) for k, v in f.items()}
        pairs = evidence_pairs(analysis, f, evidence)
        item["evidence"] = [{k: _plain(v) for k, v in p.items()} for p in pairs.to_dict("records")]
        findings.append(item)
    off = analysis.clock_offset
    return {
        "schema_version": SCHEMA_VERSION,
        "captures": [{k: _plain(v) for k, v in r.summary().items()} for r in analysis.captures],
        "log": {
            "events": int(len(analysis.events)),
            "bad_spi_lines": int(analysis.events["kind"].isin(["bad-spi", "replay"]).sum()),
            "unparsed_lines": analysis.unparsed_lines,
            "notes": list(analysis.log_notes),
        },
        "clock_offset": {"seconds": off.seconds, "method": off.method, "matches": off.matches,
                         "candidates": off.candidates, "spread": off.spread, "text": off.describe()},
        "device_addresses": list(analysis.local_addresses),
        "screenos_version": analysis.options.screenos_version,
        "rate_limit_s": analysis.options.rate_limit_s,
        "findings": findings,
        "skipped": [str(s) for s in analysis.skipped],
    }


def render_json(analysis) -> str:
    return json.dumps(analysis_dict(analysis), indent=2, ensure_ascii=False)
