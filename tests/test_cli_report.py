"""One way to ask every command: --format text|json, -o by suffix, --vendor, and the
README's option table of each command matching its --help."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from badspi_pcap.cli import cli, main
from conftest import FIXTURES

README = (FIXTURES.parent / "README.md").read_text()
REF = FIXTURES / "logs" / "reference"
LAB = FIXTURES / "pcaps" / "lab"
SCREENOS = str(REF / "screenos-syslog.log")
GET_SA = str(REF / "screenos-get-sa.txt")


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def section(command: str) -> str:
    start = README.index(f"### `badspi {command} ")
    end = README.index("\n### ", start + 1)
    return README[start:end]


def documented_options(command: str) -> set[str]:
    rows = [line for line in section(command).splitlines() if line.startswith("| `")]
    return {opt for row in rows for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]*", row.split(" | ")[0])}


def help_options(command: str) -> set[str]:
    params = cli.commands[command].params
    return {o for p in params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")} - {"--help"}


@pytest.mark.parametrize("command", ["packets", "events", "sas", "analyze", "batch"])
def test_readme_option_table_matches_help(command):
    assert documented_options(command) == help_options(command)
    assert run(command, "--help").exit_code == 0


@pytest.mark.parametrize("command", ["events", "sas", "analyze", "batch"])
def test_the_log_format_option_is_vendor_everywhere(command):
    assert "--vendor" in help_options(command)


def test_events_json_report():
    result = run("events", SCREENOS, "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["events"] == 9 and report["files"][0]["events"] == 9
    bad = [r for r in report["summary"] if r["kind"] == "bad-spi"]
    assert bad == [{"device": "test", "vendor": "screenos", "kind": "bad-spi", "tunnel": "0x9a", "count": 1,
                    "first_utc": "2021-06-30 12:08:35", "last_utc": "2021-06-30 12:08:35"}]


def test_sas_json_report():
    report = json.loads(run("sas", GET_SA, "--format", "json").output)
    row = report["sas"][2]
    assert (row["tunnel"], row["gateway"], row["direction"], row["spi"]) == ("0x15", "10.10.104.235", "in",
                                                                             "0x33511797")
    assert {"counter": "Totalbytes", "value": 345976469}.items() <= report["counters"][0].items()


def test_packets_json_report():
    report = json.loads(run("packets", LAB / "icmp-frag-needed.pcap", "--format", "json").output)
    (capture,) = report["captures"]
    assert capture["capture"] == "icmp-frag-needed.pcap"
    assert capture["icmp_errors"] and all(r["icmp_mtu"] == 1200 for r in capture["icmp_errors"])
    assert all(re.fullmatch(r"0x[0-9a-f]{8}", r["spi"]) for r in capture["sas"])


@pytest.mark.parametrize("suffix", [".json", ".txt"])
def test_output_by_suffix_writes_the_report(tmp_path, suffix):
    target = tmp_path / f"report{suffix}"
    result = run("events", SCREENOS, "-o", target)
    assert result.exit_code == 0 and result.stdout == ""
    text = target.read_text()
    if suffix == ".json":
        assert json.loads(text)["events"] == 9
    else:
        assert text.startswith("device") and "9 events from 1 file" in text


def test_csv_tables_show_spis_and_tunnels_as_written(tmp_path):
    target = tmp_path / "ev.csv"
    assert run("events", SCREENOS, "-o", target).exit_code == 0
    table = pd.read_csv(target, dtype=str)
    first = table.iloc[0]
    assert (first["spi"], first["tunnel_id"]) == ("0xf5b25b5b", "0x9a")
    parquet = tmp_path / "ev.parquet"
    assert run("events", SCREENOS, "-o", parquet).exit_code == 0
    typed = pd.read_parquet(parquet).iloc[0]
    assert (typed["spi"], typed["tunnel_id"]) == (0xF5B25B5B, 0x9A)  # typed tables keep numbers


def test_json_with_a_table_keeps_stdout_one_document(tmp_path):
    result = run("sas", GET_SA, "--format", "json", "-o", tmp_path / "s.jsonl")
    assert json.loads(result.stdout)["sas"] and "wrote 12 rows" in result.stderr


def test_unknown_output_suffix_is_a_one_line_error(tmp_path, capsys):
    assert main(["events", SCREENOS, "-o", str(tmp_path / "x.xlsx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "cannot tell the output format" in err and ".json" in err
    assert err.count("\n") == 1


def test_sas_text_shows_per_sa_counters_where_tables_print_them():
    out = run("sas", FIXTURES / "real" / "sa" / "ios-ntc-show-crypto-ipsec-sa-detail.txt").output.splitlines()
    assert out[0].split()[-3:] == ["replay_errors", "invalid_spi_errors", "replay_window"]
    assert out[4].split() == ["-", "ios", "-", "3.3.3.3", "in", "0x1234dcba", "ACTIVE(ACTIVE)", "2813", "1", "0",
                              "1024"]
    plain = run("sas", GET_SA).output.splitlines()[0].split()
    assert plain[-1] == "lifetime_s"  # tables without them get no empty columns
