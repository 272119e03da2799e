"""`badspi analyze` as a support engineer runs it: report text, JSON, Markdown,
--check exit codes and the evidence pcap."""
import json

import pytest

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
    evidence = [ln for ln in lines if "<->" in ln]
    assert evidence[0] == ("    screenos-syslog.log:3 21:06:03 device (UTC+01:00) SPI 0x1000a001 SEQ 0xe  <->  "
                           "icmp-net-unreach.pcap#35 20:05:26.334 UTC ICMP 3/0 192.0.2.254 -> 192.0.2.1 "
                           "quoting 192.0.2.1 -> 198.51.100.1 SPI 0x1000a001 seq 14 (dt +0.3 s, same SPI and SEQ)")
    assert "    Wireshark: (icmp || icmpv6) && (esp.spi == 0x1000a001 || ah.spi == 0x1000a001)" in lines
    assert any(ln.startswith("    Action: The ScreenOS version is unknown: `get system` shows it") for ln in lines)
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


def by_event_id(table):
    """Rows by event id: the table's ``event_id`` column where it has one (the causes/
    engine's tables), else its index."""
    return table.set_index("event_id", drop=False) if "event_id" in table.columns else table


def event_column(matches) -> str:
    return "event_id" if "event_id" in matches.columns else "event"


def test_evidence_pcapng_comments_sit_on_their_frames(tmp_path, capsys):
    import subprocess

    import badspi_pcap as bp

    require_tshark()
    out = tmp_path / "proof.pcapng"
    code, _, err = run(BASE + ["--evidence", str(out)], capsys)
    assert code == 0 and f"wrote 37 evidence frames to {out}" in err
    listed = json.loads(subprocess.run(
        ["tshark", "-r", str(out), "-Y", "frame.comment", "-T", "json", "-e", "frame.number", "-e", "frame.time_epoch",
         "-e", "frame.comment"], capture_output=True, text=True, check=True).stdout)
    comments = {}
    for packet in listed:
        fields = packet["_source"]["layers"]
        seconds, _, fraction = fields["frame.time_epoch"][0].partition(".")
        comments[int(seconds) * 10**9 + int(fraction.ljust(9, "0"))] = (int(fields["frame.number"][0]),
                                                                        fields["frame.comment"])
    assert len(comments) == 37                                  # every evidence frame says why it is there
    as_readme = subprocess.run(["tshark", "-r", str(out), "-Y", "frame.comment", "-T", "fields", "-e", "frame.number",
                                "-e", "frame.comment"], capture_output=True, text=True, check=True).stdout
    assert [line.split("\t")[0] for line in as_readme.splitlines()] == [str(n) for n in range(1, 38)]
    first = min(comments.values())
    assert first[0] == 1 and first[1][0].startswith("badspi evidence: badspi analyze " + CAPTURE)
    assert "clock offset +37.0 s" in first[1][0]
    # the same words are the file's own comment (Wireshark: Statistics > Capture File Properties)
    info = subprocess.run(["capinfos", "-k", str(out)], capture_output=True, text=True, check=True).stdout
    assert f"Capture comment:     {first[1][0]}" in info
    result = bp.analyze(CAPTURE, events=[LOG], log_tz="Europe/Berlin")
    filters = [f for f in result.findings["display_filter"].dropna() if f]
    assert filters and all(f in first[1][0] for f in filters)   # the filters the report prints
    times = result.packets.set_index("frame")["time"].astype("int64")
    events, event = by_event_id(result.events), event_column(result.matches)
    cause = by_event_id(result.lines)["cause"]
    assert len(result.matches) == 4
    for m in result.matches.itertuples():
        ev = events.loc[getattr(m, event)]
        number, texts = comments[int(times[m.frame])]           # the comment on the frame the line names
        mine = [t for t in texts if t.startswith(f"{ev['source']}:{ev['line']}: ")]
        assert len(mine) == 1, texts
        assert f"cause {cause[getattr(m, event)]}, confirmed" in mine[0] and f"dt {m.dt:+.3f} s ({m.role}" in mine[0]
    packets = result.packets
    quoted = packets[(packets["kind"] == "icmp-error") & ~packets["frame"].isin(result.matches["frame"])]
    for t, seq in zip(quoted["time"].astype("int64"), quoted["inner_seq"]):
        assert comments[t][1] == [f"ICMP error from 192.0.2.254 quoting SPI 0x1000a001 SEQ 0x{seq:x}; "
                                  "no log line names this packet"]


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
    code, out, _ = run(["analyze", CAPTURE, "-e", str(log), "--log-tz", "Europe/Berlin", "--format", "markdown"],
                       capsys)
    assert "<script>" not in out


def test_a_log_passed_as_a_capture_is_named_a_log(tmp_path, capsys):
    export = FIXTURES / "logs" / "reference" / "exports" / "splunk-export.csv"
    for path, found in ((LOG, "screenos-syslog"), (str(export), "splunk-csv")):
        code, out, err = run(["analyze", path], capsys)
        assert code == 1 and out == ""
        assert err == f"Error: {path}: this looks like a log ({found}), not a capture: pass it with -e\n"
    notes = tmp_path / "notes.txt"
    notes.write_text("case 4711: customer sends captures on Monday\n")
    code, _, err = run(["analyze", str(notes)], capsys)
    assert code == 1 and "not a capture file" in err and "starts with 63 61 73 65" in err


def test_damaged_input_is_warned_about_at_the_top_and_counted(tmp_path, capsys):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(open(CAPTURE, "rb").read()[:20017])        # the last record breaks off
    warning = "cut.pcap: offset 19856: last record truncated: 145 of 198 bytes present; kept what is there"
    code, out, _ = run(["analyze", str(cut), "-e", LOG, "--log-tz", "Europe/Berlin"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].endswith(", 1 damaged part(s) skipped (see warnings)")
    top = lines.index("Warning  1 damaged part(s) of the input skipped: the verdicts cover only what could be read")
    verdict = next(ln for ln in lines if ln.startswith("Verdict"))
    assert lines[top + 1] == "         " + warning and top < lines.index(verdict)
    assert lines[-1] == "warning: " + warning
    code, out, _ = run(["analyze", str(cut), "--format", "markdown"], capsys)
    assert out.index("> **Warning:** 1 damaged part(s)") < out.index("## ")   # no escape clutter (issue 11)


def test_evidence_comments_name_the_line_an_ike_message_is_near(tmp_path):
    import badspi_pcap as bp
    from badspi_pcap.report.evidence_pcap import frame_comments, write_evidence

    result = bp.analyze(PCAPS / "lab" / "ikev2-rekey.pcap",
                        events=[FIXTURES / "logs" / "ikev2-rekey" / "screenos-syslog.log"],
                        log_tz="Australia/Adelaide")
    comments = frame_comments(result)
    ike = result.packets[result.packets["kind"] == "ike"]
    near = [comments[(c, f)] for c, f in zip(ike["capture"], ike["frame"]) if (c, f) in comments]
    assert near and all(len(c) == 1 and c[0].startswith("IKE ") for c in near)
    events = by_event_id(result.events)
    matched = {f"{events.loc[e, 'source']}:{events.loc[e, 'line']}"
               for e in result.matches[event_column(result.matches)]}
    assert all(c[0].rsplit(" of ", 1)[1] in matched for c in near)
    (path, frames), = write_evidence(result, str(tmp_path / "e.pcapng"))
    assert frames == len(set(comments)) >= 24     # every frame written has its comment, and only those
