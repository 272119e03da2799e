"""`badspi analyze` as a support engineer runs it: report text, JSON, Markdown,
--check exit codes and the evidence pcap."""
import json

import pytest
from click.testing import CliRunner

from badspi_pcap.capture import read_capture
from badspi_pcap.cli import main
from conftest import FIXTURES, PCAPS, require_tshark
from tshark_oracle import run_tshark

CAPTURE = str(PCAPS / "lab" / "icmp-net-unreach.pcap")
LOG = str(FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log")
BASE = ["analyze", CAPTURE, "-e", LOG, "--log-tz", "Europe/Berlin"]


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_text_report_states_offset_verdict_evidence_and_action(capsys):
    code, out, _ = run(BASE, capsys)
    assert code == 0
    lines = out.splitlines()
    assert "Clock    the device's clock is 37.0 s ahead of the capture's (estimated from 4 of 4 exact SPI+SEQ " \
           "pairs agreeing within 0.4 s)" in lines
    assert "         device times are as the device wrote them, in its zone; packet times are UTC; dt = packet " \
           "time minus the line's time, both on the capture clock" in lines
    assert "Address  192.0.2.1 (the device)" in lines
    assert "Device   Juniper ScreenOS, version unknown (`get system` shows it)" in lines
    assert "Verdict  tunnel 0x67: not covered by the capture (2 lines); tunnel 0x9a: embedded-icmp CONFIRMED " \
           "(2 lines), not covered by the capture (1 line)" in lines
    assert lines.count("tunnel 0x9a (peer 198.51.100.1)") == 1          # one heading per tunnel
    assert "  embedded-icmp: CONFIRMED, explains 2 of 2 covered bad-SPI lines" in lines
    evidence = [l for l in lines if "<->" in l]
    assert evidence[0] == ("    screenos-syslog.log:3 21:06:03 device (UTC+01:00) SPI 0x1000a001 SEQ 0xe  <->  "
                           "icmp-net-unreach.pcap#35 20:05:26.334 UTC ICMP 3/0 192.0.2.254 -> 192.0.2.1 "
                           "quoting 192.0.2.1 -> 198.51.100.1 SPI 0x1000a001 seq 14 (dt +0.3 s, same SPI and SEQ)")
    assert "    Wireshark: (icmp || icmpv6) && (esp.spi == 0x1000a001 || ah.spi == 0x1000a001)" in lines
    assert any(l.startswith("    Action: The ScreenOS version is unknown: `get system` shows it") for l in lines)
    assert "  not-covered: NOT-COVERED" in lines
    assert "1 line of the tunnel is not covered" in out and "1 lines" not in out and "1 events" not in out


def test_json_has_the_documented_layout(capsys):
    code, out, _ = run(BASE + ["--format", "json"], capsys)
    doc = json.loads(out)
    assert doc["schema_version"] == 2
    assert set(doc) == {"schema_version", "captures", "log", "clock_offset", "device_addresses", "options",
                        "thresholds", "vendors", "headline", "findings", "skipped"}
    assert doc["clock_offset"]["method"] == "spi+seq" and round(doc["clock_offset"]["seconds"]) == 37
    assert doc["thresholds"]["confirm_windows"] == 0.8 and doc["options"]["log_tz"] == "Europe/Berlin"
    assert doc["vendors"][0]["key"] == "screenos" and "KB10091" in doc["vendors"][0]["rate_limit"]["source"]
    f = next(f for f in doc["findings"] if f["cause"] == "embedded-icmp")
    assert f["verdict"] == "confirmed" and f["tunnel"] == "tunnel 0x9a" and f["tunnel_id"] == 0x9A
    assert f["spis"] == [0x1000A001] and f["lines_exact"] == 2 and len(f["event_ids"]) == 2
    assert {"capture": "icmp-net-unreach.pcap", "frame": 35} in f["evidence"]
    assert f["evidence_pairs"][0]["frame"] == 35 and f["evidence_pairs"][0]["key"] == "same SPI and SEQ"
    assert f["evidence_pairs"][0]["line_spi"] == "0x1000a001"
    assert f["summary"].startswith("2 of 2 covered bad-SPI lines")


def test_markdown_escapes_and_renders(capsys):
    code, out, _ = run(BASE + ["--format", "markdown"], capsys)
    assert code == 0
    assert "## tunnel 0x9a" in out and "### embedded-icmp: **CONFIRMED**, explains 2 of 2 covered lines" in out
    assert "Wireshark filter: `(icmp || icmpv6) && (esp.spi == 0x1000a001 || ah.spi == 0x1000a001)`" in out
    assert "\\" not in out                               # no escape clutter
    assert "`get system`" in out and "get sa id &lt;id>" in out


@pytest.mark.parametrize("scenario,capture,code", [
    ("icmp-net-unreach", "lab/icmp-net-unreach.pcap", 10),
    ("ikev2-rekey", "lab/ikev2-rekey.pcap", 11),
    ("ikev2-spi-before-install", "lab/ikev2-rekey.pcap", 12),
    ("spi-mismatch", "lab/spi-mismatch.pcap", 13),
])
def test_check_exit_codes(capsys, scenario, capture, code):
    truth = json.loads((FIXTURES / "logs" / scenario / "truth.json").read_text())
    args = ["analyze", str(PCAPS / capture), "-e", str(FIXTURES / "logs" / scenario / "screenos-syslog.log"),
            "--log-tz", truth["params"]["tz"], "--check"]
    assert run(args, capsys)[0] == code
    assert run(args[:-1], capsys)[0] == 0  # without --check: 0 whenever the analysis ran


def test_check_without_anything_to_explain(capsys):
    assert run(["analyze", str(PCAPS / "lab" / "ikev2-rekey.pcap"), "--check"], capsys)[0] == 0


def test_evidence_pcap_holds_the_proof(tmp_path, capsys):
    out = tmp_path / "proof.pcap"
    code, _, err = run(BASE + ["--evidence", str(out)], capsys)
    assert code == 0 and f"evidence frames to {out}" in err
    proof = read_capture(out).packets
    icmp = proof[proof["kind"] == "icmp-error"]
    assert len(icmp) == 35 and set(icmp["inner_spi"]) == {0x1000A001}
    original = read_capture(CAPTURE).packets
    both = proof.merge(original, on=["time", "kind", "spi", "seq", "inner_seq"], how="left", indicator=True)
    assert (both["_merge"] == "both").all()
    require_tshark()
    assert len(run_tshark(out)) == len(proof)


def test_report_to_file_and_bad_options(tmp_path, capsys):
    report = tmp_path / "case.txt"
    code, out, err = run(BASE + ["-o", str(report)], capsys)
    assert code == 0 and out == "" and "wrote the report" in err
    assert "  embedded-icmp: CONFIRMED, explains 2 of 2 covered bad-SPI lines" in report.read_text()
    code, _, err = run(BASE + ["--clock-offset", "soon"], capsys)
    assert code == 1 and err.startswith("Error: cannot read clock offset 'soon'")
    code, _, err = run(["analyze", CAPTURE, "-e", str(tmp_path / "missing.log")], capsys)
    assert code == 1 and err.startswith("Error: ") and "missing.log" in err


def test_hostile_log_text_is_inert_in_reports(tmp_path, capsys):
    log = tmp_path / "evil.log"
    text = open(LOG, encoding="utf-8").read().replace("ethernet0/2", "ethernet0/2\x1b[2J<script>x</script>")
    log.write_text(text)
    code, out, _ = run(["analyze", CAPTURE, "-e", str(log), "--log-tz", "Europe/Berlin"], capsys)
    assert "\x1b" not in out
    code, out, _ = run(["analyze", CAPTURE, "-e", str(log), "--log-tz", "Europe/Berlin", "--format", "markdown"], capsys)
    assert "<script>" not in out
