"""`badspi packets`: the summary a support engineer pastes into a case note."""
import pandas as pd
import pytest
from click.testing import CliRunner

from badspi_pcap.cli import cli, main
from conftest import PCAPS

LAB = PCAPS / "lab"


def run(*args):
    result = CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)
    return result


def test_summary_of_an_embedded_icmp_capture():
    result = run("packets", LAB / "icmp-net-unreach.pcap")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == ("== icmp-net-unreach.pcap: pcap, 144 frames, 2026-11-26 20:05:19.526 .. "
                        "2026-11-26 20:05:49.214 UTC (29.7 s); link Ethernet")
    assert lines[1] == "   IPsec-relevant rows 134: esp 99, icmp-error 35; later IP fragments 0"
    sa_rows = [ln for ln in lines if ln.startswith("0x")]
    assert sa_rows[0].split() == ["0x1000a001", "esp", "192.0.2.1", "198.51.100.1", "58", "2026-11-26",
                                  "20:05:19.526", "2026-11-26", "20:05:49.214", "1", "58", "0", "35"]
    icmp = [ln.split() for ln in lines if ln.startswith("192.0.2.254")]
    assert [(r[1], r[2], r[4], r[8]) for r in icmp] == [("3", "0", "0x1000a001", "16"), ("3", "1", "0x1000a001", "9"),
                                                        ("3", "13", "0x1000a001", "10")]


def test_frag_needed_shows_the_mtu():
    result = run("packets", LAB / "icmp-frag-needed.pcap")
    icmp = [ln.split() for ln in result.output.splitlines() if ln.startswith("192.0.2.254")]
    assert icmp and all(r[1:5] == ["3", "4", "1200", "0x1000a001"] for r in icmp)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_output_table_holds_every_row(tmp_path, suffix):
    out = tmp_path / f"p{suffix}"
    result = run("packets", LAB / "icmp-net-unreach.pcap", LAB / "ipv6.pcap", "-o", out)
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == f"wrote {134 + 141} rows to {out}"
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        assert pq.read_schema(out).field("spi").type == pa.uint32()
        assert pq.read_schema(out).field("time").type == pa.timestamp("ns", tz="UTC")
        df = pd.read_parquet(out)
    elif suffix == ".csv":
        df = pd.read_csv(out)
    else:
        df = pd.read_json(out, lines=True)
    assert len(df) == 275
    assert set(df["capture"]) == {"icmp-net-unreach.pcap", "ipv6.pcap"}


def test_warnings_name_what_was_skipped(tmp_path):
    data = (LAB / "natt.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-20])
    result = CliRunner().invoke(cli, ["packets", str(cut)])
    assert result.exit_code == 0
    assert "warning: cut.pcap: offset " in result.stderr
    assert "last record truncated" in result.stderr


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert main(["packets", str(text)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "not a capture file" in err and err.count("\n") == 1
    assert main(["packets", str(tmp_path / "missing.pcap")]) == 1
    assert "cannot open" in capsys.readouterr().err
    assert main(["packets", str(LAB / "natt.pcap"), "-o", str(tmp_path / "x.xlsx")]) == 1
    assert "cannot tell the output format" in capsys.readouterr().err
    assert main(["packets"]) == 2


def test_internal_errors_are_reported_without_traceback(monkeypatch, capsys):
    import badspi_pcap.capture as capture

    def boom(*a, **k):
        raise RuntimeError("kaput")

    monkeypatch.setattr(capture, "read_capture", boom)
    assert main(["packets", str(LAB / "natt.pcap")]) == 3
    assert capsys.readouterr().err == "Internal error: RuntimeError: kaput (rerun with --traceback and report it)\n"
    with pytest.raises(RuntimeError):
        main(["--traceback", "packets", str(LAB / "natt.pcap")])


def test_output_files_get_ordinary_permissions(tmp_path):
    import os
    out = tmp_path / "p.csv"
    run("packets", LAB / "natt.pcap", "-o", out)
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_sequence_block_per_sa_with_the_receivers_window():
    result = run("packets", LAB / "replay-reorder.pcap")
    lines = result.output.splitlines()
    at = lines.index("Sequence numbers per SA (capture order; drops by a receiver with a 32-packet window):")
    assert lines[at + 1].split() == ["spi", "src", "dst", "packets", "duplicates", "late", "late>=32", "restarts",
                                     "max_behind", "window_needed", "drops@32"]
    assert lines[at + 4].split() == ["0x2000b002", "198.51.100.1", "192.0.2.1", "892", "0", "35", "7", "0", "62",
                                     "63", "7"]
    wide = run("packets", "--replay-window", "64", LAB / "replay-reorder.pcap").output.splitlines()
    row = next(ln for ln in wide if ln.startswith("0x2000b002") and ln.split()[-1].isdigit() and len(ln.split()) == 11)
    assert row.split()[6] == "0" and row.split()[-1] == "0"   # nothing 64 behind: a 64 window drops nothing
    dup = run("packets", LAB / "replay-duplicate.pcap").output.splitlines()
    assert any(ln.split()[:7] == ["0x2000b002", "198.51.100.1", "192.0.2.1", "953", "65", "0", "0"] and
               ln.split()[-1] == "65" for ln in dup)


def test_sequence_in_the_json_report_has_stable_keys():
    import json
    report = json.loads(run("packets", "--format", "json", "--replay-window", "64", LAB / "replay-reorder.pcap").output)
    sa = next(s for s in report["captures"][0]["sequence"] if s["spi"] == "0x2000b002")
    assert (sa["late"], sa["late_outside"], sa["max_behind"], sa["window_needed"], sa["window"], sa["fails"]) == \
        (35, 0, 62, 63, 64, 0)
