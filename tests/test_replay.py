"""Replay lines explained: the lab's real-kernel replay captures with the ScreenOS, ASA and IOS
logs the device model (fixtures/devicelog) wrote for them.  Every expectation comes from the
model's truth file, the lab's truth file or gwA's own /proc/net/xfrm_stat, never from the
analyzer; every printed display filter is run through tshark."""
import json
import subprocess

import pandas as pd
import pytest

from badspi_pcap.analysis import analyze
from capture_builders import pcap_bytes, real_frames
from conftest import FIXTURES, PCAPS, require_tshark

LAB = PCAPS / "lab"
LOGS = FIXTURES / "logs"
ROOT = FIXTURES.parent
CASES = [(s, f) for s in ("replay-reorder", "replay-duplicate") for f in ("screenos-syslog.log", "asa.log", "ios.log")]
EXPECTED = {"replay-reorder": "reordered-beyond-window", "replay-duplicate": "duplicated-path"}


def truth(scenario):
    return json.loads((LOGS / scenario / "truth.json").read_text())


def kernel_seq_errors(scenario):
    def read(which):
        rows = dict(ln.split() for ln in (LAB / f"{scenario}.xfrm_stat.{which}.txt").read_text().splitlines())
        return int(rows["XfrmInStateSeqError"])
    return read("after") - read("before")


def run(scenario, form, **kw):
    t = truth(scenario)
    sas = [LOGS / scenario / "show-crypto-ipsec-sa.txt"] if form == "ios.log" else []
    return analyze([ROOT / c["pcap"] for c in t["captures"]], [LOGS / scenario / form], sas,
                   log_tz=t["params"]["tz"], **kw)


def finding(a, cause):
    f = a.findings[a.findings["cause"] == cause]
    assert len(f) == 1, a.findings[["tunnel", "cause", "verdict"]].to_string()
    return f.iloc[0]


@pytest.mark.parametrize("scenario,form", CASES, ids=[f"{s}/{f}" for s, f in CASES])
def test_the_right_replay_cause_is_confirmed_with_its_frames(scenario, form):
    t = truth(scenario)
    a = run(scenario, form)
    f = finding(a, EXPECTED[scenario])
    assert f["verdict"] == "confirmed"
    want = [ln for ln in t["files"][form]["lines"] if ln["cause"] == EXPECTED[scenario]]
    assert f["lines_explained"] == f["lines_exact"] == len(want) > 0
    # each line is proved by the very frame the model dropped
    proved = a.lines[a.lines["cause"] == EXPECTED[scenario]]
    proved_frames = sorted(int(r["frame"]) for refs in proved["frames"] for r in refs)
    assert proved_frames == sorted(x for ln in want for x in ln["frames"])
    evidence = {int(e["frame"]) for e in f["evidence"]}
    assert {x for ln in want for x in ln["frames"]} <= evidence
    assert abs(a.clock_offset.seconds - t["params"]["clock_offset_s"]) < 1.0
    # no replay line is counted in a bad-SPI cause
    bad_spi = a.findings[a.findings["kind"] == "bad-spi"]
    assert not set(proved["event_id"]) & {e for ids in bad_spi["event_ids"] for e in ids}


@pytest.mark.parametrize("scenario", EXPECTED)
def test_packets_failing_a_32_window_equal_the_kernels_seq_error_delta(scenario):
    delta = kernel_seq_errors(scenario)
    assert delta == json.loads((LAB / f"{scenario}.truth.json").read_text())["gwA_xfrm_stat_delta_at_after_read"][
        "XfrmInStateSeqError"]
    a = run(scenario, "screenos-syslog.log", replay_window=32)
    facts = json.loads(finding(a, EXPECTED[scenario])["facts"])
    assert (facts["replay_window"], facts["replay_window_origin"], facts["capture_drops"]) == (32, "given", delta)
    # the IOS SA table shows the device's window (32): the same count without --replay-window
    ios = json.loads(finding(run(scenario, "ios.log"), EXPECTED[scenario])["facts"])
    assert (ios["replay_window"], ios["replay_window_origin"], ios["capture_drops"]) == (32, "sa-table", delta)


def test_a_window_the_drops_contradict_is_not_confirmed():
    """With a 64-packet window nothing 62 behind is dropped: the line's own proof fails."""
    a = run("replay-reorder", "screenos-syslog.log", replay_window=64)
    f = finding(a, "reordered-beyond-window")
    assert f["verdict"] == "likely" and f["lines_exact"] == 0


def test_unknown_window_is_bounded_by_the_drops():
    f = finding(run("replay-reorder", "asa.log"), "reordered-beyond-window")
    facts = json.loads(f["facts"])
    assert facts["replay_window"] is None and facts["window_at_most"] == 62
    assert (facts["max_behind"], facts["window_needed"], facts["late"]) == (62, 63, 35)
    from badspi_pcap.report.common import summary
    assert "window is not known for Cisco ASA" in summary(f.to_dict()) and "at most that" in summary(f.to_dict())
    assert "No ASA document found" in __import__("badspi_pcap.vendors", fromlist=["x"]).profile("asa").action(
        "reordered-beyond-window")


@pytest.mark.parametrize("scenario,form", CASES, ids=[f"{s}/{f}" for s, f in CASES])
def test_every_replay_filter_selects_exactly_its_evidence_in_tshark(scenario, form):
    require_tshark()
    a = run(scenario, form)
    replay = a.findings[a.findings["kind"] == "replay"]
    checked = 0
    for f in replay.itertuples():
        if not f.display_filter:
            continue
        for capture in {e["capture"] for e in f.evidence}:
            path = next(ROOT / c["pcap"] for c in truth(scenario)["captures"] if c["pcap"].endswith(capture))
            out = subprocess.run(["tshark", "-r", str(path), "-o", "ip.defragment:FALSE", "-Y", f.display_filter,
                                  "-T", "fields", "-e", "frame.number"], capture_output=True, text=True, check=True)
            got = {int(x) for x in out.stdout.split()}
            assert got == {int(e["frame"]) for e in f.evidence if e["capture"] == capture}, f.display_filter
            checked += 1
    assert checked


def test_capture_alone_reports_duplicates_and_reordering_depth():
    require_tshark()
    a = analyze([LAB / "replay-reorder.pcap", LAB / "replay-duplicate.pcap"])
    dup = json.loads(finding(a, "duplicated-path")["facts"])
    late = json.loads(finding(a, "reordered-beyond-window")["facts"])
    assert (dup["count"], dup["receiver"]) == (65, "192.0.2.1")
    assert (late["count"], late["max_behind"], late["window_needed"]) == (35, 62, 63)
    windows = {v["window"]: v["drops"] for v in late["vendor_windows"]}
    assert windows[32] == kernel_seq_errors("replay-reorder") and windows[64] == 0
    assert set(a.findings["verdict"]) == {"inconclusive"}
    for f in a.findings.itertuples():       # the filters hold for the capture-only findings too
        capture = f.evidence[0]["capture"]
        out = subprocess.run(["tshark", "-r", str(LAB / capture), "-Y", f.display_filter, "-T", "fields",
                              "-e", "frame.number"], capture_output=True, text=True, check=True)
        assert {int(x) for x in out.stdout.split()} == {int(e["frame"]) for e in f.evidence}


def test_replay_lines_the_capture_saw_in_order_point_at_the_capture_point(tmp_path):
    """The same log against the capture without the second copies (as a capture point before
    the duplicating hop would see it): no replay cause, the path is not captured."""
    t = json.loads((LAB / "replay-duplicate.truth.json").read_text())
    copies = {d["frame"] for sa in t["esp_sequence_analysis"]["per_spi"] for d in sa["duplicates"]}
    frames = [r for n, r in enumerate(real_frames(LAB / "replay-duplicate.pcap"), 1) if n not in copies]
    upstream = tmp_path / "replay-duplicate.pcap"
    upstream.write_bytes(pcap_bytes(frames))
    a = analyze([upstream], [LOGS / "replay-duplicate" / "screenos-syslog.log"], log_tz="Europe/Madrid")
    replay = a.findings[a.findings["kind"] == "replay"]
    assert list(replay["cause"]) == ["replay-path-not-captured"] and list(replay["verdict"]) == ["inconclusive"]
    assert json.loads(replay["facts"].iloc[0])["in_order"] == 65
    assert "Capture on the link into the device" in __import__("badspi_pcap.report.common", fromlist=["x"]).action(
        replay.iloc[0].to_dict())


def test_bad_spi_and_replay_lines_on_one_tunnel_are_explained_apart():
    t = truth("mixed-stale-replay")
    for form in ("screenos-syslog.log", "asa.log"):
        a = analyze([ROOT / c["pcap"] for c in t["captures"]], [LOGS / "mixed-stale-replay" / form],
                    log_tz=t["params"]["tz"])
        tunnel = a.findings[a.findings["verdict"] == "confirmed"]
        assert sorted(zip(tunnel["cause"], tunnel["kind"])) == [("duplicated-path", "replay"), ("stale-sa", "bad-spi")]
        assert tunnel["tunnel"].nunique() == 1
        by_cause = {c: set(ids) for c, ids in zip(tunnel["cause"], tunnel["event_ids"])}
        lines = a.lines.set_index("event_id")
        assert set(lines.loc[list(by_cause["stale-sa"]), "kind"]) == {"bad-spi"}
        assert set(lines.loc[list(by_cause["duplicated-path"]), "kind"]) == {"replay"}
        want = {c: sum(1 for ln in t["files"][form]["lines"] if ln["cause"] == c) for c in by_cause}
        assert {c: len(ids) for c, ids in by_cause.items()} == want


def test_ios_line_without_its_sa_table_joins_by_sequence_number_and_time_never_exactly():
    """No `show crypto ipsec sa`: the connection id names no SPI, so the line is joined by
    its sequence number and time (the clock offset given) and the verdict stays likely."""
    t = truth("replay-reorder")
    a = analyze([ROOT / c["pcap"] for c in t["captures"]], [LOGS / "replay-reorder" / "ios.log"],
                log_tz=t["params"]["tz"], clock_offset=t["params"]["clock_offset_s"], replay_window=32)
    f = finding(a, "reordered-beyond-window")
    assert (f["verdict"], f["lines_explained"], f["lines_exact"]) == ("likely", 1, 0)
    line = a.lines[a.lines["cause"] == "reordered-beyond-window"].iloc[0]
    want = next(ln for ln in t["files"]["ios.log"]["lines"] if ln["cause"] == "reordered-beyond-window")
    assert line["proof"] == "seq+time" and [int(r["frame"]) for r in line["frames"]] == want["frames"]


def test_readme_replay_sample_is_the_printed_report():
    from click.testing import CliRunner
    from badspi_pcap.cli import cli

    readme = (ROOT / "README.md").read_text().split("## Replay verdicts and the sequence table")[1]
    sample = readme.split("```text\n")[1].split("```")[0]
    args = ["analyze", str(LAB / "replay-reorder.pcap"), "-e", str(LOGS / "replay-reorder" / "screenos-syslog.log"),
            "--log-tz", "America/Chicago", "--replay-window", "32"]
    printed = CliRunner().invoke(cli, args, catch_exceptions=False).output
    assert sample.strip() and sample in printed


@pytest.mark.parametrize("scenario, code", [("replay-duplicate", 14), ("replay-reorder", 15)])
def test_check_exit_code_names_the_replay_cause(scenario, code):
    from badspi_pcap.cli import main
    args = ["analyze", str(LAB / f"{scenario}.pcap"), "-e", str(LOGS / scenario / "screenos-syslog.log"),
            "--log-tz", truth(scenario)["params"]["tz"], "--check", "-o", "/dev/null"]
    assert main(args) == code


@pytest.mark.parametrize("name", ["replay-duplicate", "ipv6", "natt", "icmp-net-unreach"])
def test_ip_ttl_and_id_as_tshark_reads_them(name):
    require_tshark()
    from badspi_pcap.capture import read_capture
    p = read_capture(LAB / f"{name}.pcap").packets
    out = subprocess.run(["tshark", "-r", str(LAB / f"{name}.pcap"), "-o", "ip.defragment:FALSE", "-T", "fields",
                          "-e", "frame.number", "-e", "ip.ttl", "-e", "ipv6.hlim", "-e", "ip.id"],
                         capture_output=True, text=True, check=True).stdout
    want = {}
    for row in out.splitlines():
        frame, ttl, hlim, ident = (row.split("\t") + ["", "", ""])[:4]
        # the outer header's values come first (an ICMP error's quote repeats the fields)
        first = lambda v: v.split(",")[0]  # noqa: E731
        if not (ttl or hlim):
            continue                      # not IP (ARP)
        want[int(frame)] = (int(first(ttl) or first(hlim)), int(first(ident), 16) if ident else None)
    got = {int(f): (int(t), None if pd.isna(i) else int(i)) for f, t, i in zip(p["frame"], p["ip_ttl"], p["ip_id"])}
    assert got and all(got[f] == want[f] for f in got)


def test_copies_with_a_lower_ttl_say_loop(tmp_path):
    """The duplicate copies of the lab capture with their TTL lowered by 2 (header checksum
    fixed), as a routing loop would deliver them."""
    import struct
    t = json.loads((LAB / "replay-duplicate.truth.json").read_text())
    copies = {d["frame"] for sa in t["esp_sequence_analysis"]["per_spi"] for d in sa["duplicates"]}
    frames = []
    for n, (ts, data) in enumerate(real_frames(LAB / "replay-duplicate.pcap"), 1):
        if n in copies:
            ip = bytearray(data[14:34])
            ip[8] -= 2
            ip[10:12] = b"\0\0"
            total = sum(struct.unpack("!10H", bytes(ip)))
            total = (total & 0xFFFF) + (total >> 16)
            ip[10:12] = struct.pack("!H", ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF)
            data = data[:14] + bytes(ip) + data[34:]
        frames.append((ts, data))
    looped = tmp_path / "replay-duplicate.pcap"
    looped.write_bytes(pcap_bytes(frames))
    a = analyze([looped], [LOGS / "replay-duplicate" / "screenos-syslog.log"], log_tz="Europe/Madrid")
    f = finding(a, "duplicated-path")
    facts = json.loads(f["facts"])
    assert (f["verdict"], facts["copies_ttl_lower"], facts["copies_ttl_drop"], facts["copies_identical"]) == \
        ("confirmed", 65, 2, 0)
    assert "went round a loop" in __import__("badspi_pcap.report.common", fromlist=["x"]).summary(f.to_dict())
    # and the lab's own copies are identical (netem copies the packet)
    same = json.loads(finding(run("replay-duplicate", "screenos-syslog.log"), "duplicated-path")["facts"])
    assert (same["copies_identical"], same["copies_ttl_lower"]) == (65, 0)


def test_json_report_lists_the_sources_of_the_replay_advice():
    from badspi_pcap.report.jsonout import analysis_dict
    d = analysis_dict(run("replay-reorder", "ios.log"))
    ios = next(v for v in d["vendors"] if v["key"] == "ios")
    assert any("116858-problem-replay" in s for s in ios["replay_sources"])
    f = next(x for x in d["findings"] if x["cause"] == "reordered-beyond-window")
    assert "`crypto ipsec security-association replay window-size <N>`" in f["action"]


def test_a_restarted_sender_is_confirmed_as_sequence_restart(tmp_path):
    """Hand-built edge case from real frames: the lab's first 322 frames (in order), then the
    peer's first 60 ESP packets sent again (sequence numbers 1..60 on the same SPI, as a
    sender that restarted without sequence sync), and two 00042 lines for two of them."""
    require_tshark()
    from datetime import datetime, timezone
    frames = real_frames(LAB / "replay-duplicate.pcap")
    head = frames[:322]
    from badspi_pcap.capture import read_capture
    p = read_capture(LAB / "replay-duplicate.pcap").packets
    peer = p[(p["spi"] == 0x2000B002) & (p["frame"] <= 322)].sort_values("frame").head(60)
    start = head[-1][0]
    again = [(start + (i + 1) * 10_000_000, frames[int(f) - 1][1]) for i, f in enumerate(peer["frame"])]
    restarted = tmp_path / "restart.pcap"
    restarted.write_bytes(pcap_bytes(head + again))
    lines = []
    for i in (0, 29):
        when = datetime.fromtimestamp(again[i][0] / 1e9, timezone.utc)
        lines.append(f"{when:%b %d %H:%M:%S} gwA gwA: NetScreen device_id=gwA  [Root]system-critical-00042: Replay "
                     f"packet detected on IPSec tunnel on ethernet0/2 with tunnel ID 0x9a! From 198.51.100.1 to "
                     f"192.0.2.1/{136}, ESP, SPI 0x2000b002, SEQ 0x{i + 1:x}. ({when:%Y-%m-%d %H:%M:%S})")
    log = tmp_path / "restart.log"
    log.write_text("\n".join(lines) + "\n")
    a = analyze([restarted], [log])
    f = finding(a, "sequence-restart")
    facts = json.loads(f["facts"])
    old_top = int(p[(p["spi"] == 0x2000B002) & (p["frame"] <= 322)]["seq"].max())
    assert (f["verdict"], f["lines_exact"], facts["restart_packets"], facts["old_top"]) == ("confirmed", 2, 60, old_top)
    assert facts["restart_frame"] == 323
    out = subprocess.run(["tshark", "-r", str(restarted), "-Y", f["display_filter"], "-T", "fields", "-e",
                          "frame.number"], capture_output=True, text=True, check=True).stdout
    assert {int(x) for x in out.split()} == {int(e["frame"]) for e in f["evidence"]} == set(range(323, 383))
    assert not len(a.findings[a.findings["cause"].isin(["duplicated-path", "reordered-beyond-window"])])
