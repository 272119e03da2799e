"""Golden tests on the real corpus (fixtures/real/, sources in fixtures/real/SOURCES.md).

Every log file has a ``.expected`` CSV written by reading the lines themselves: one row
per event the file must give (``line, kind, direction, spi, ...``; empty = null), plus
``MISSED`` rows for IPsec lines the parser does not read yet (they count against the
parsed share and must give no event, so reading them forces the expectation to be
written).  A line not listed must give no event.  SA tables likewise, one row per SA.
"""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from badspi_pcap.logs import parse_logs
from badspi_pcap.sas import parse_sas
from conftest import FIXTURES

REAL = FIXTURES / "real"
LOGS = sorted((REAL / "logs").glob("*.log"))
TABLES = sorted((REAL / "sa").glob("*.txt"))
# the vendor a file's lines belong to, by the file name's first word
VENDOR = {"asa": "asa", "ios": "ios", "iosxe": "ios", "junos": "junos", "libreswan": "libreswan",
          "openswan": "libreswan", "linux": "linux", "panos": "panos", "fortios": "fortios",
          "screenos": "screenos", "sonicwall": "sonicwall", "strongswan": "strongswan", "lab": "strongswan"}


def expected(path: Path) -> list[dict]:
    with open(str(path) + ".expected", newline="") as f:
        return list(csv.DictReader(f))


def header(path: Path) -> list[str]:
    with open(str(path) + ".expected", newline="") as f:
        return next(csv.reader(f))


def cell(column: str, value) -> str:
    """A table value as the .expected files write it."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if column == "spi":
        return f"0x{int(value):08x}"
    if column == "time_local":
        return str(pd.Timestamp(value))
    return str(value)


def rows(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    return [{c: cell(c, r[c]) for c in columns} for _, r in frame.iterrows()]


def vendor_of(path: Path) -> str:
    first = path.stem.removeprefix("ref-").split("-")[0]
    return VENDOR[first]


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_real_log_lines(path):
    want = expected(path)
    events = [r for r in want if r["kind"] != "MISSED"]
    got = rows(parse_logs(path, year=2020).events, header(path))
    assert got == events
    missed = {r["line"] for r in want if r["kind"] == "MISSED"}
    assert not missed & {r["line"] for r in got}


@pytest.mark.parametrize("path", TABLES, ids=[p.name for p in TABLES])
def test_real_sa_tables(path):
    assert rows(parse_sas(path).sas, header(path)) == expected(path)


def shares() -> dict[str, tuple[int, int]]:
    """Per vendor: (IPsec lines read, IPsec lines) over the published real logs."""
    read, total = Counter(), Counter()
    for path in LOGS:
        lines = {}
        for r in expected(path):
            lines[r["line"]] = r["kind"] != "MISSED"
        for ok in lines.values():
            total[vendor_of(path)] += 1
            read[vendor_of(path)] += ok
    return {v: (read[v], total[v]) for v in total}


def test_parsed_shares_are_those_the_readme_gives():
    readme = (FIXTURES.parent / "README.md").read_text()
    for vendor, (ok, n) in shares().items():
        assert ok / n >= 0.95 or n < 5, (vendor, ok, n)
        assert f"| {vendor} | {ok} / {n} |" in readme, (vendor, ok, n)


def test_corpus_is_large_enough_and_every_file_has_a_source():
    sources = (REAL / "SOURCES.md").read_text()
    for path in LOGS + TABLES:
        assert f"`{path.name}`" in sources, path.name
    published_lines = sum(len([t for t in p.read_text(encoding="utf-8").splitlines() if t.strip()]) for p in LOGS)
    assert published_lines >= 150
    read, total = (sum(column) for column in zip(*shares().values()))
    readme = (FIXTURES.parent / "README.md").read_text()
    assert f"{published_lines} lines" in readme and f"{read} of {total} in all" in readme
    assert len([p for p in TABLES if not p.name.startswith("lab-")]) >= 20
