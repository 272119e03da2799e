"""Output safety: what customers' bytes can do to the engineer who reads our output.

CSV cells a spreadsheet would run as a formula are neutralised whatever the column type;
no control character (terminal escape sequences, the bell, C1 controls) reaches the
terminal from log text *or from file names* (archive members and customers' folders name
files too); Markdown escapes log text."""
from __future__ import annotations

import csv
import gzip
import re

import pandas as pd
import pyarrow as pa
import pytest

from badspi_pcap.cli import main
from badspi_pcap.errors import InputError, Skipped, printable
from badspi_pcap.logs import parse_logs
from badspi_pcap.output import neutralise_formula, write_table
from conftest import FIXTURES, PCAPS

FORMULAS = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", "\t=1+1", "\r=1+1", "=HYPERLINK(\"http://x\",\"y\")"]
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CAPTURE = PCAPS / "lab" / "icmp-net-unreach.pcap"
LOG = FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log"


def read_csv_cells(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("dtype", ["object", "str", "string[pyarrow]", "category", "arrow-dictionary"])
def test_csv_formula_cells_are_neutralised_in_every_text_column_type(tmp_path, dtype):
    values = FORMULAS + ["plain", None]
    if dtype == "arrow-dictionary":
        column = pd.Series(pa.array(values).dictionary_encode(),
                           dtype=pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string())))
    else:
        column = pd.Series(values, dtype=dtype)
    df = pd.DataFrame({"text": column, "number": range(-1, len(values) - 1)})
    write_table(df, tmp_path / "t.csv")
    rows = read_csv_cells(tmp_path / "t.csv")[1:]
    assert [r[0] for r in rows] == ["'" + v for v in FORMULAS] + ["plain", ""]
    assert [r[1] for r in rows][:2] == ["-1", "0"]  # numbers stay numbers


def test_csv_cell_cannot_smuggle_a_row_break(tmp_path):
    df = pd.DataFrame({"text": ["abc\r=cmd|' /C calc'!A0", "x\n@SUM(1)", "y"], "n": [1, 2, 3]})
    write_table(df, tmp_path / "t.csv")
    assert read_csv_cells(tmp_path / "t.csv") == [["text", "n"], ["abc\r=cmd|' /C calc'!A0", "1"],
                                                  ["x\n@SUM(1)", "2"], ["y", "3"]]
    raw = (tmp_path / "t.csv").read_bytes()
    assert raw.count(b"\r\n") == 4 and b'"abc\r=cmd' in raw


def test_neutralise_formula_leaves_other_values_alone():
    assert neutralise_formula("a=1") == "a=1" and neutralise_formula(-1) == -1 and neutralise_formula(None) is None


def test_cli_csv_export_of_hostile_log_fields(tmp_path):
    line = LOG.read_text().splitlines()[0].replace("device_id=gwA-ssg", "device_id==cmd|calc")
    log = tmp_path / "evil.log"
    log.write_text(line + "\n")
    out = tmp_path / "events.csv"
    assert main(["events", str(log), "-o", str(out)]) == 0
    rows = read_csv_cells(out)
    device = rows[1][rows[0].index("device")]
    assert device == "'=cmd|calc"
    assert not [c for r in rows[1:] for c in r if c[:1] in ("=", "+", "-", "@")]


def test_skipped_and_errors_print_without_control_characters():
    s = Skipped(f"a{ESCAPES}.pcap", "line 3", f"bad {ESCAPES}")
    assert not CONTROL.search(str(s)) and s.reason == f"bad {ESCAPES}"  # the record keeps the bytes
    assert not CONTROL.search(str(InputError(f"{ESCAPES}: no")))
    assert printable("tab\tand\nnewline stay") == "tab\tand\nnewline stay"


@pytest.fixture
def hostile_files(tmp_path):
    """A truncated capture, a log with escape sequences in a line, and a cut gzip log,
    all three with escape sequences in their names."""
    capture = tmp_path / f"ev{ESCAPES}il.pcap"
    capture.write_bytes(CAPTURE.read_bytes()[:-30])
    log = tmp_path / f"lo{ESCAPES}<script>g.log"
    log.write_text(LOG.read_text().replace("ethernet0/2", f"ethernet0/2{ESCAPES}<script>x</script>")
                   + f"garbage {ESCAPES} line\n")
    cut = tmp_path / f"gz{ESCAPES}.log.gz"
    cut.write_bytes(gzip.compress((LOG.read_text() * 20).encode())[:-50])
    return str(capture), str(log), str(cut)


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("command", ["packets", "events", "analyze", "analyze-markdown", "sas"])
def test_terminal_output_has_no_control_characters(hostile_files, capsys, command):
    capture, log, cut = hostile_files
    args = {"packets": ["packets", capture],
            "events": ["events", log, cut, "--unparsed"],
            "analyze": ["analyze", capture, "-e", log, "-e", cut, "--log-tz", "Europe/Berlin"],
            "analyze-markdown": ["analyze", capture, "-e", log, "--format", "markdown"],
            "sas": ["sas", log]}[command]
    code, out, err = run(args, capsys)
    assert code == (1 if command == "sas" else 0)
    assert out or err
    assert not CONTROL.search(out.replace("\n", "")), out
    assert not CONTROL.search(err.replace("\n", "")), err
    if command == "events":
        assert "<script>g.log:8: garbage [2J]0;owned31m line" in out  # listed, defused
        assert "gz?[2J?]0;owned??31m.log.gz: after line" in out
    if command == "packets":
        assert "warning: ev?[2J?]0;owned??31mil.pcap: offset" in err
    if command == "analyze-markdown":
        assert "<script>" not in out
    if command == "sas":
        assert err.startswith("Error: ") and "lo?[2J?]0;owned??31m<script>g.log" in err


def test_markdown_escapes_script_from_log_text(hostile_files):
    from badspi_pcap.analysis import analyze
    from badspi_pcap.report.markdown import render_markdown

    capture, log, _ = hostile_files
    text = render_markdown(analyze(capture, events=[log], log_tz="Europe/Berlin"))
    assert "<script>" not in text and "lo?\\[2J?\\]0;owned??31m&lt;script>g.log" in text   # only < needs escaping
    assert not CONTROL.search(text.replace("\n", ""))


def test_unparsed_lines_listing_names_the_file_safely(tmp_path):
    from badspi_pcap.logs.summary import unparsed_lines

    log = tmp_path / f"x{ESCAPES}.log"
    log.write_text(LOG.read_text() + f"noise {ESCAPES}\n")
    listed = unparsed_lines(parse_logs(log).unparsed)
    assert len(listed) == 1 and not CONTROL.search(listed[0])
