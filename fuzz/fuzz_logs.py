#!/usr/bin/env python3
"""Coverage-guided fuzzing of the log and SA-table parsers (atheris).

The first input byte picks the target: 0 -- ``parse_logs`` on the rest, written to a
file (any vendor, encoding, gzip/bzip2/xz); 1 -- ``parse_sas``; 2 -- ``parse_logs`` with
``year`` and ``log_tz`` set (other time paths).  Only ``BadspiError`` may escape, no
parser may fail inside (``parser error`` in ``skipped``), and every non-blank line must be
counted once: recognised, ignored, unparsed or duplicate.  Seeds are the fixture logs
and SA tables.

    python fuzz/fuzz_logs.py -max_total_time=600 -timeout=10      # the long run
    python fuzz/fuzz_logs.py -runs=2000                           # a quick one
"""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIXTURES, fuzz, scratch_file  # noqa: E402

with atheris.instrument_imports(include=["badspi_pcap"]):
    from badspi_pcap.errors import BadspiError
    from badspi_pcap.logs import parse_logs
    from badspi_pcap.sas import parse_sas

SCRATCH = scratch_file(".log")
SEED_MAX = 24 << 10


def _no_parser_errors(skipped) -> None:
    bugs = [str(s) for s in skipped if "parser error" in s.reason]
    assert not bugs, bugs


def check_logs(data: bytes, **options) -> None:
    SCRATCH.write_bytes(data)
    try:
        result = parse_logs(SCRATCH, **options)
    except BadspiError:
        return
    _no_parser_errors(result.skipped)
    for s in result.stats.to_dict("records"):
        assert s["lines"] == s["recognised"] + s["ignored"] + s["unparsed"] + s["duplicates"], s
    spi = result.events["spi"].dropna()
    assert spi.between(0, 2 ** 32 - 1).all()


def check_sas(data: bytes) -> None:
    SCRATCH.write_bytes(data)
    try:
        result = parse_sas(SCRATCH)
    except BadspiError:
        return
    _no_parser_errors(result.skipped)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] % 3, data[1:]
    if mode == 0:
        check_logs(rest)
    elif mode == 1:
        check_sas(rest)
    else:
        check_logs(rest, year=2021, log_tz="Europe/Berlin")


def seeds() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    logs = sorted(p for p in (FIXTURES / "logs").rglob("*") if p.suffix in (".log", ".txt")
                  and p.stat().st_size <= SEED_MAX)
    logs += sorted(p for p in (FIXTURES / "pcaps" / "lab").glob("*.txt") if p.stat().st_size <= SEED_MAX)
    for p in logs:
        data = p.read_bytes()
        mode = 1 if ("sa" in p.name and p.suffix == ".txt") or "xfrm" in p.name else 0
        out[f"{mode}-{p.parent.name}-{p.name}"] = bytes([mode]) + data
        if mode == 0:
            out[f"2-{p.parent.name}-{p.name}"] = b"\2" + data
    asa = (FIXTURES / "logs" / "reference" / "asa.log").read_bytes()
    out["0-asa.gz"] = b"\0" + gzip.compress(asa)
    out["0-asa.utf16"] = b"\0" + asa.decode().encode("utf-16")
    return out


def main() -> None:
    fuzz("logs", test_one_input, seeds(), SCRATCH, warm_up=20)


if __name__ == "__main__":
    main()
