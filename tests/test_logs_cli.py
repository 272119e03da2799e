"""``badspi events`` and ``badspi sas``: exact key output lines, -o files, errors via main()."""
from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from badspi_pcap.cli import cli, main
from logs_support import REF, write

SCREENOS = str(REF / "screenos-syslog.log")


def run(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output.splitlines()


def test_events_summary_table_and_footer(tmp_path):
    garbage = write(tmp_path / "g.log", (REF / "asa.log").read_text() + "not a log line\x1b[31m red\n")
    code, out = run("events", SCREENOS, str(garbage), "--log-tz", "+02:00")
    assert code == 0
    assert out[0].split() == ["device", "vendor", "kind", "tunnel", "count", "first", "(UTC)", "last", "(UTC)"]
    rows = [line.split() for line in out[2:] if line.startswith(("test", "-"))]
    # ScreenOS tunnel ids as ScreenOS prints them (issue 13: hex, as in 00026 and get sa)
    assert ["test", "screenos", "bad-spi", "0x9a", "1", "2021-06-30", "10:08:35", "2021-06-30", "10:08:35"] in rows
    assert ["test", "screenos", "p2-complete", "0x9a", "3", "2021-06-29", "09:13:04", "2021-06-30", "22:06:34"] in rows
    assert ["test", "screenos", "replay", "0x67", "2", "2021-06-29", "08:58:53", "2021-06-29", "14:23:20"] in rows
    assert ("15 events from 2 files, 15 lines: 1 unparsed (--unparsed lists them), 0 duplicate lines kept once,"
            " 0 known lines with nothing to report") in out
    assert not any(line.startswith("note:") for line in out)


def test_events_notes_and_unparsed_listing(tmp_path):
    ios = write(tmp_path / "ios.log", (REF / "ios.log").read_text() + "\x00odd\x07 line\n")
    code, out = run("events", str(ios), "--unparsed")
    assert code == 0
    year = pd.Timestamp.now().year
    assert f"note: year assumed {year} (no --year or capture dates)" in out
    assert "note: time zone assumed UTC — use --log-tz" in out
    assert out[-1] == f"{ios}:5: odd line"


def test_events_writes_the_table(tmp_path):
    target = tmp_path / "ev.parquet"
    code, out = run("events", SCREENOS, "-o", str(target))
    assert code == 0 and out[-1] == f"wrote 9 rows to {target}"
    table = pd.read_parquet(target)
    assert table["spi"].iloc[0] == 0xF5B25B5B and len(table) == 9


def test_events_duplicates_counted(tmp_path):
    code, out = run("events", SCREENOS, SCREENOS)
    assert code == 0
    assert ("9 events from 2 files, 18 lines: 0 unparsed, 9 duplicate lines kept once,"
            " 0 known lines with nothing to report") in out


def test_events_bad_path_is_an_error_with_exit_1(tmp_path, capsys):
    missing = tmp_path / "missing.log"
    assert main(["events", str(missing)]) == 1
    assert capsys.readouterr().err.strip() == f"Error: {missing}: cannot read (No such file or directory)"


def test_events_bad_options_are_errors_with_exit_1(capsys):
    assert main(["events", SCREENOS, "--vendor", "nope"]) == 1  # --format is the report format (issue 13)
    assert capsys.readouterr().err.startswith("Error: unknown log format 'nope': choose one of ")
    assert main(["events", SCREENOS, "--log-tz", "Nowhere/Land"]) == 1
    assert "Error: unknown time zone 'Nowhere/Land'" in capsys.readouterr().err


def test_sas_summary_and_counters():
    code, out = run("sas", str(REF / "screenos-get-sa.txt"), str(REF / "spi-mismatch.xfrm_stat.after.txt"))
    assert code == 0
    rows = [line.split() for line in out]
    assert ["ssg5-serial-wlan", "screenos", "0x15", "10.10.104.235", "in", "0x33511797", "A/U", "2149"] in rows
    assert ["ssg5-serial", "screenos", "0x2", "72.21.209.225", "out", "0x8cdd274a", "A/-", "3385"] in rows
    assert "12 SAs from 2 files, 44 counters (3 non-zero)" in out
    assert ["-", "-", "-", "-", "XfrmInNoStates", "19"] in rows
    assert ["ssg5-serial-wlan", "0x15", "10.10.104.235", "in", "Totalbytes", "345976469"] in rows


def test_sas_writes_the_table_and_errors(tmp_path, capsys):
    target = tmp_path / "sas.csv"
    code, out = run("sas", str(REF / "ikev2-rekey.sas-end.gwA.txt"), "-o", str(target))
    assert code == 0 and out[-1] == f"wrote 2 rows to {target}"
    assert pd.read_csv(target)["spi"].tolist() == ["0xc2050756", "0xcc4dfe53"]  # searchable (issue 13)
    assert main(["sas", str(REF / "asa.log")]) == 1
    assert capsys.readouterr().err.startswith(f"Error: {REF / 'asa.log'}: no SA table found")


def test_commands_are_documented():
    for name in ("events", "sas"):
        code, out = run(name, "--help")
        assert code == 0 and len(" ".join(out)) > 200
