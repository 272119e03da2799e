"""Verdicts a support engineer can act on (issue 11): two causes on one tunnel, filters
that tshark accepts and that select exactly the evidence, vendor-fitting advice, clock
hints, plain output, and one rule for unwritable outputs."""
import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from badspi_pcap.analysis import analyze
from badspi_pcap.causes import Thresholds
from badspi_pcap.cli import main
from badspi_pcap.clock import notes
from badspi_pcap.correlation import ClockOffset
from badspi_pcap.report.common import action, records, summary
from badspi_pcap.vendors import GENERIC_ACTIONS, PROFILES
from conftest import FIXTURES, PCAPS, require_tshark

pytestmark = pytest.mark.filterwarnings("ignore::badspi_pcap.capture.CaptureWarning")   # damaged inputs on purpose
ROOT = FIXTURES.parent
TWO = FIXTURES / "logs" / "one-tunnel-icmp-stale"
TWO_TRUTH = json.loads((TWO / "truth.json").read_text())
TWO_CAPTURES = [str(ROOT / c["pcap"]) for c in TWO_TRUTH["captures"]]
TWO_LOG = str(TWO / "screenos-syslog.log")
TWO_ARGS = ["analyze", *TWO_CAPTURES, "-e", TWO_LOG, "--log-tz", TWO_TRUTH["params"]["tz"]]


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def truth_lines(cause):
    """Line numbers of the syslog form that the device model wrote for this cause."""
    return sorted(e["line"] for e in TWO_TRUTH["files"]["screenos-syslog.log"]["lines"]
                  if e["cause"] == cause and e["kind"] == "bad-spi")


# ---------------------------------------------------------------- two causes on one tunnel

@pytest.fixture(scope="module")
def two():
    return analyze(TWO_CAPTURES, [TWO_LOG], log_tz=TWO_TRUTH["params"]["tz"])


def test_the_fixture_has_two_causes_on_one_tunnel():
    assert {c["tunnel_id"] for c in TWO_TRUTH["captures"]} == {0x7}
    assert {c["expected_cause"] for c in TWO_TRUTH["captures"]} == {"embedded-icmp", "stale-sa"}
    assert len(truth_lines("embedded-icmp")) == 2 and len(truth_lines("stale-sa")) == 2


def test_both_causes_confirmed_each_with_its_own_lines_spis_and_frames(two):
    f = {r["cause"]: r for r in records(two.findings) if r["tunnel"] == "tunnel 0x7"}
    for cause, spi in (("embedded-icmp", 0x1000A001), ("stale-sa", 0x4000D004)):
        r = f[cause]
        assert r["verdict"] == "confirmed", summary(r)
        lines = sorted(int(n) for n in two.lines.loc[r["event_ids"], "line"])
        assert lines == truth_lines(cause)
        assert r["spis"] == [spi]                       # only its own SPI
        assert (r["lines_explained"], r["lines_covered"], r["lines_exact"]) == (2, 4, 2)
        frames = two.packets.merge(pd.DataFrame(r["evidence"]), on=["capture", "frame"])
        if cause == "embedded-icmp":
            assert set(frames["kind"]) == {"icmp-error"} and set(frames["inner_spi"]) == {spi}
        else:
            assert set(frames["kind"]) == {"esp"} and set(frames["spi"]) == {spi}
        assert str(spi and f"0x{spi:08x}") in r["display_filter"]
    other = "0x4000d004"
    assert other not in f["embedded-icmp"]["display_filter"]


VERDICT = ("tunnel 0x7: embedded-icmp CONFIRMED (2 lines), stale-sa CONFIRMED (2 lines), "
           "not covered by the capture (1 line)")


def test_every_format_gives_the_same_verdict_and_lines(capsys, tmp_path):
    code, text, _ = run(TWO_ARGS, capsys)
    assert code == 0
    assert f"Verdict  tunnel 0x67: not covered by the capture (2 lines); {VERDICT}" in text.splitlines()
    assert text.count("\ntunnel 0x7 (peer 198.51.100.1)\n") == 1
    assert "  embedded-icmp: CONFIRMED, explains 2 of 4 covered bad-SPI lines" in text
    assert "  stale-sa: CONFIRMED, explains 2 of 4 covered bad-SPI lines" in text
    for n in truth_lines("embedded-icmp") + truth_lines("stale-sa"):
        assert f"    screenos-syslog.log:{n} " in text

    _, out, _ = run(TWO_ARGS + ["--format", "json"], capsys)
    doc = json.loads(out)
    assert VERDICT in doc["headline"]
    by_cause = {f["cause"]: f for f in doc["findings"] if f["tunnel"] == "tunnel 0x7"}
    for cause in ("embedded-icmp", "stale-sa"):
        assert by_cause[cause]["verdict"] == "confirmed"
        assert sorted(p["line"] for p in by_cause[cause]["evidence_pairs"]) == truth_lines(cause)

    _, md, _ = run(TWO_ARGS + ["--format", "markdown"], capsys)
    assert f"**Verdict:** tunnel 0x67: not covered by the capture (2 lines); {VERDICT}" in md
    assert md.count("## tunnel 0x7\n") == 1
    assert "### embedded-icmp: **CONFIRMED**" in md and "### stale-sa: **CONFIRMED**" in md

    report = tmp_path / "case.html"
    assert run(TWO_ARGS + ["--report", str(report)], capsys)[0] == 0
    page = re.sub(r"<[^>]+>", " ", report.read_text())
    page = re.sub(r"\s+", " ", page)
    assert f"Verdict: tunnel 0x67: not covered by the capture (2 lines); {VERDICT}" in page


def test_batch_summary_gives_each_capture_its_cause(tmp_path):
    from badspi_pcap.batch import CheckOptions, run_batch
    folder = tmp_path / "in"
    folder.mkdir()
    for c in TWO_CAPTURES:
        (folder / Path(c).name).write_bytes(Path(c).read_bytes())
    result = run_batch([str(folder)], tmp_path / "ds", jobs=1,
                       options=CheckOptions(events=(TWO_LOG,), log_tz=TWO_TRUTH["params"]["tz"]))
    verdicts = dict(zip(result.summary["capture"].map(lambda a: Path(a).name), result.summary["verdicts"]))
    assert "tunnel 0x7: embedded-icmp CONFIRMED (2 lines)" in verdicts["icmp-net-unreach.pcap"]
    assert "tunnel 0x7: stale-sa CONFIRMED (2 lines)" in verdicts["spi-mismatch.pcap"]
    findings = pd.read_parquet(tmp_path / "ds" / "findings")
    stale = findings[(findings["cause"] == "stale-sa")]
    assert list(stale["verdict"]) == ["confirmed"] and list(stale["spis"].iloc[0]) == [0x4000D004]
    assert len(stale["event_ids"].iloc[0]) == 2


# ---------------------------------------------------------------- display filters vs tshark

FILTER_CASES = [
    ("icmp-net-unreach", "screenos-syslog.log", {}),
    ("natt", "screenos-syslog.log", {}),
    ("ipv6", "screenos-syslog.log", {}),
    ("spi-mismatch", "screenos-syslog.log", {}),
    ("ikev2-rekey", "screenos-syslog.log", {}),
    ("ikev1-rekey", "screenos-syslog.log", {}),
    ("ikev2-spi-before-install", "screenos-syslog.log", {}),
    ("mixed-rekey-natt", "screenos-syslog.log", {}),
    ("one-tunnel-icmp-stale", "screenos-syslog.log", {}),
    ("replay-reorder", "screenos-syslog.log", {}),
    ("replay-duplicate", "asa.log", {}),
    ("mixed-stale-replay", "screenos-syslog.log", {}),
]


def tshark_times(capture, display_filter) -> list[int]:
    """Epoch ns of the frames the filter selects (tshark 4.x, no reassembly); a filter
    tshark rejects fails the test."""
    done = subprocess.run(["tshark", "-n", "-r", str(capture), "-o", "ip.defragment:FALSE", "-Y", display_filter,
                           "-T", "fields", "-e", "frame.time_epoch"], capture_output=True, text=True)
    assert done.returncode == 0, f"tshark rejects {display_filter!r}: {done.stderr.strip()}"
    out = []
    for line in done.stdout.split():
        sec, _, frac = line.partition(".")
        out.append(int(sec) * 1_000_000_000 + int((frac + "000000000")[:9]))
    return sorted(out)


def printed_filters(capsys, args, tmp_path) -> set[str]:
    """Every display filter the text, Markdown, JSON and HTML reports print."""
    import html as html_lib
    found = set()
    page = tmp_path / "filters.html"
    assert run(args + ["--report", str(page)], capsys)[0] == 0
    found |= {html_lib.unescape(f) for f in re.findall(r"Wireshark display filter: <code>(.*?)</code>",
                                                       page.read_text())}
    _, text, _ = run(args, capsys)
    found |= set(re.findall(r"^    Wireshark: (.*)$", text, re.M))
    _, md, _ = run(args + ["--format", "markdown"], capsys)
    found |= set(re.findall(r"^Wireshark filter: `(.*)`$", md, re.M))
    _, js, _ = run(args + ["--format", "json"], capsys)
    found |= {f["display_filter"] for f in json.loads(js)["findings"] if f["display_filter"]}
    return found


def check_filters(analysis, evidence_pcap):
    """Each finding's filter selects exactly its evidence frames in every capture, and
    exactly those frames' times in the evidence pcap."""
    packets = analysis.packets
    for f in records(analysis.findings):
        if not f["display_filter"]:
            continue
        mine = packets.merge(pd.DataFrame(f["evidence"], columns=["capture", "frame"]).astype(
            {"frame": "int64"}), on=["capture", "frame"]) if f["evidence"] else packets.iloc[:0]
        for read in analysis.captures:
            want = sorted(mine.loc[mine["capture"] == read.capture, "time"].astype("int64"))
            assert tshark_times(read.path, f["display_filter"]) == want, (f["tunnel"], f["cause"], read.capture)
        assert tshark_times(evidence_pcap, f["display_filter"]) == sorted(mine["time"].astype("int64")), \
            (f["tunnel"], f["cause"], "evidence pcap")


@pytest.mark.parametrize("scenario,form,kw", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_every_printed_filter_selects_exactly_the_evidence(scenario, form, kw, capsys, tmp_path):
    require_tshark()
    truth = json.loads((FIXTURES / "logs" / scenario / "truth.json").read_text())
    captures = [str(ROOT / c["pcap"]) for c in truth["captures"]]
    log = str(FIXTURES / "logs" / scenario / form)
    args = ["analyze", *captures, "-e", log, "--log-tz", truth["params"]["tz"]]
    if truth["params"]["log_self"]:
        args.append("--log-self")
    a = analyze(captures, [log], log_tz=truth["params"]["tz"], log_self=truth["params"]["log_self"])
    filters = {f for f in a.findings["display_filter"].dropna()}
    assert printed_filters(capsys, args, tmp_path) == filters
    evidence = tmp_path / "evidence.pcap"
    assert run(args + ["--evidence", str(evidence)], capsys)[0] == 0
    check_filters(a, evidence)


def test_filters_of_capture_only_findings_and_of_quotes_without_the_spi(tmp_path, capsys):
    require_tshark()
    from capture_builders import natt_short_quotes
    from badspi_pcap.report.evidence_pcap import write_evidence
    for a in (analyze(PCAPS / "lab" / "icmp-frag-needed.pcap"),
              analyze(natt_short_quotes(tmp_path), [FIXTURES / "logs" / "natt" / "screenos-syslog.log"],
                      log_tz="Asia/Tokyo")):
        assert a.findings["display_filter"].notna().any()
        evidence = tmp_path / "ev.pcap"
        write_evidence(a, str(evidence))
        check_filters(a, evidence)


def test_html_frame_filters_use_commas_and_select_the_frames(tmp_path, capsys):
    require_tshark()
    report = tmp_path / "r.html"
    assert run(TWO_ARGS + ["--report", str(report)], capsys)[0] == 0
    import html as html_lib
    pre = html_lib.unescape(re.findall(r"<pre>(.*?)</pre>", report.read_text(), re.S)[-1])
    commands = [line for line in pre.splitlines() if line.startswith("tshark ")]
    assert commands and any("frame.number in {" in c for c in commands)
    for cmd in commands:
        m = re.fullmatch(r"tshark -r (\S+) -o ip.defragment:FALSE -Y '(.*)'", cmd)
        assert m, cmd
        assert tshark_times(m.group(1), m.group(2))      # tshark accepts it and it selects frames
        if "frame.number in" in m.group(2):
            assert re.search(r"\{\d+(, \d+)+\}", m.group(2))


# ---------------------------------------------------------------- vendor advice

SCREENOS_WORDS = ("ScreenOS", "soft-lifetime-buffer", "`get sa`", "get sa id", "get sa stat", "get ike cookie",
                  "`get system`", "get event", "get tech", "log-self", "KB10091 cause")


def actions_of(a) -> list[str]:
    return [action(r) for r in records(a.findings)]


def test_no_vendor_but_screenos_gets_screenos_commands_for_any_cause():
    causes = list(GENERIC_ACTIONS) + ["unexplained", "not-covered"]
    for key, prof in PROFILES.items():
        for cause in causes:
            f = {"cause": cause, "verdict": "likely", "vendor": key, "lines": 2, "version": None,
                 "version_affected": None, "icmp_errors": 3, "routers": ["192.0.2.254"],
                 "icmp": [{"type": 3, "code": 0, "mtu": None, "count": 3}]}
            text = action(f)
            assert text, (key, cause)
            if key != "screenos":
                assert not any(w in text for w in SCREENOS_WORDS), (key, cause, text)


@pytest.mark.parametrize("scenario,form", [
    ("spi-mismatch", "asa.log"), ("ikev2-rekey", "asa.log"), ("ikev2-spi-before-install", "asa.log"),
    ("spi-mismatch", "strongswan.log"), ("ikev2-rekey", "strongswan.log"),
    ("ikev2-spi-before-install", "strongswan.log")])
def test_asa_and_strongswan_logs_get_their_own_advice(scenario, form):
    truth = json.loads((FIXTURES / "logs" / scenario / "truth.json").read_text())
    a = analyze([ROOT / c["pcap"] for c in truth["captures"]], [FIXTURES / "logs" / scenario / form],
                log_tz=truth["params"]["tz"])
    texts = [t for t in actions_of(a) if t]
    assert texts and not any(w in t for t in texts for w in SCREENOS_WORDS), texts
    # strongSwan hosts: the kernel writes the bad-SPI audit lines (Linux commands), charon the rest
    vendors = {"asa.log": {"asa"}, "strongswan.log": {"strongswan", "linux"}}[form]
    assert {r["vendor"] for r in records(a.findings)} <= vendors
    from badspi_pcap.report.common import vendor_lines
    said = vendor_lines(a)
    if form == "asa.log":
        assert said == ["Cisco ASA, version unknown (`show version` shows it)"]
    else:
        assert "Linux kernel IPsec (XFRM), version unknown (`uname -r` shows it)" in said


def _stale_lines():
    """(time, spi, seq) of the packets behind the spi-mismatch scenario's stale-SA lines."""
    truth = json.loads((FIXTURES / "logs" / "spi-mismatch" / "truth.json").read_text())
    rows = [e for e in truth["files"]["screenos-syslog.log"]["lines"] if e["cause"] == "stale-sa"]
    return [(pd.Timestamp(e["time_utc"]), int(e["spi"], 16), e["seq"]) for e in rows]


def test_ios_and_fortios_logs_never_get_screenos_advice(tmp_path):
    """Hand-written lines in the real IOS and FortiOS wording (fixtures/logs/reference)
    about the packets the peer sent on the deleted SA of the spi-mismatch capture."""
    ios, forti = [], []
    for t, spi, seq in _stale_lines():
        ios.append(f"*{t:%b %d %H:%M:%S}.000: %CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid "
                   f"spi for destaddr=192.0.2.1, prot=50, spi=0x{spi:08X}({spi}), srcaddr=198.51.100.1, "
                   f"input interface=GigabitEthernet1")
        forti.append(f'date={t:%Y-%m-%d} time={t:%H:%M:%S} eventtime={t.value} tz="+0000" logid="0101037131" '
                     f'type="event" subtype="vpn" level="error" vd="root" logdesc="IPsec ESP" msg="IPsec ESP" '
                     f'action="error" remip=198.51.100.1 locip=192.0.2.1 remport=500 locport=500 outintf="port1" '
                     f'cookies="N/A" user="N/A" group="N/A" useralt="N/A" xauthuser="N/A" xauthgroup="N/A" '
                     f'assignip=N/A vpntunnel="to-gwB" status="esp_error" error_num="Received ESP packet with '
                     f'unknown SPI." spi="{spi:08x}" seq="{seq:08x}"')
    for name, lines, vendor in (("ios.log", ios, "ios"), ("fortios.log", forti, "fortios")):
        log = tmp_path / name
        log.write_text("\n".join(lines) + "\n")
        a = analyze(PCAPS / "lab" / "spi-mismatch.pcap", [log], year=2026)
        assert len(a.lines) == len(lines) and set(a.lines["vendor"]) == {vendor}
        stale = [r for r in records(a.findings) if r["cause"] == "stale-sa"]
        assert stale and stale[0]["vendor"] == vendor
        texts = actions_of(a)
        assert texts and not any(w in t for t in texts for w in SCREENOS_WORDS), texts


def test_unknown_screenos_version_is_said_with_the_command_that_shows_it(capsys):
    _, out, _ = run(TWO_ARGS, capsys)
    assert "Device   Juniper ScreenOS, version unknown (`get system` shows it)" in out
    assert "The ScreenOS version is unknown: `get system` shows it" in out
    assert "Upgrade to ScreenOS 5.4" not in out
    _, out, _ = run(TWO_ARGS + ["--screenos-version", "5.2.0r1"], capsys)
    assert "Device   Juniper ScreenOS 5.2.0r1" in out
    assert "upgrade to ScreenOS 5.4 or later" in out and "version is unknown" not in out


# ---------------------------------------------------------------- clock sanity

def offset(seconds, method="spi+seq", matches=5):
    return ClockOffset(seconds, method, matches, matches, 0.4)


@pytest.mark.parametrize("seconds,zone,names", [
    (-6 * 3600 + 42, "UTC-06:00", "America/Chicago"),
    (9 * 3600 + 4, "UTC+09:00", "Asia/Tokyo"),
    (5.5 * 3600 + 5, "UTC+05:30", "Asia/Kolkata"),
])
def test_offsets_of_whole_zone_steps_name_the_zones(seconds, zone, names):
    found = notes(offset(seconds), when=pd.Timestamp("2026-11-26 20:05", tz="UTC"))
    assert [n.kind for n in found] == ["zone"]
    assert zone in found[0].text and names in found[0].text
    assert f"--log-tz {zone[3:]}" in found[0].text


def test_an_offset_of_a_day_warns_about_the_date():
    found = notes(offset(86400 + 37), when=pd.Timestamp("2026-11-26 20:05", tz="UTC"))
    assert [n.kind for n in found] == ["date"]
    assert "12 h or more" in found[0].text and "--clock-offset 0" in found[0].text


def test_small_offsets_say_nothing():
    assert notes(offset(37)) == [] and notes(offset(-95)) == []
    assert notes(offset(1000)) == []                    # 16 min 40 s: no zone is 15 min off UTC
    assert notes(offset(8.5 * 3600 + 5)) == []          # no zone at UTC+08:30 (today)


@pytest.mark.parametrize("scenario,zone,name", [
    ("one-tunnel-icmp-stale", "UTC-06:00", "America/Chicago"), ("natt", "UTC+09:00", "Asia/Tokyo")])
def test_a_log_read_in_the_wrong_zone_gets_the_hint(scenario, zone, name):
    truth = json.loads((FIXTURES / "logs" / scenario / "truth.json").read_text())
    a = analyze([ROOT / c["pcap"] for c in truth["captures"]], [FIXTURES / "logs" / scenario / "screenos-syslog.log"])
    texts = [n.text for n in a.clock_notes]
    assert any(zone in t and name in t for t in texts), texts


def test_a_log_a_day_off_gets_the_date_warning(tmp_path):
    text = (FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log").read_text()
    log = tmp_path / "next-day.log"
    log.write_text(text.replace("Nov 26", "Nov 27").replace("2026-11-26", "2026-11-27"))
    a = analyze(PCAPS / "lab" / "icmp-net-unreach.pcap", [log], log_tz="Europe/Berlin")
    assert abs(a.clock_offset.seconds - (86400 + 37)) < 1.0
    assert [n.kind for n in a.clock_notes] == ["date"]


def test_a_given_offset_the_data_contradict_gets_a_warning(capsys):
    args = ["analyze", str(PCAPS / "lab" / "icmp-net-unreach.pcap"), "-e",
            str(FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log"), "--log-tz", "Europe/Berlin"]
    _, out, _ = run(args + ["--clock-offset", "-1h"], capsys)
    assert "warning: the data contradict the given clock offset -1 h 0 min 0 s: 4 exact SPI+SEQ pairs agree on " \
           "+37" in out
    _, out, _ = run(args + ["--clock-offset", "+37"], capsys)
    assert "contradict" not in out


def test_a_wrong_log_tz_the_data_contradict_gets_a_warning(capsys):
    args = ["analyze", str(PCAPS / "lab" / "icmp-net-unreach.pcap"), "-e",
            str(FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log"), "--log-tz", "America/New_York"]
    _, out, _ = run(args, capsys)
    warning = next(line for line in out.splitlines() if "contradict --log-tz America/New_York" in line)
    assert "4 exact SPI+SEQ pairs agree" in warning and "UTC+01:00" in warning and "Europe/Berlin" in warning


# ---------------------------------------------------------------- what counts, what is said

def test_replay_lines_are_never_counted_in_a_bad_spi_cause(tmp_path):
    src = (FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log").read_text().splitlines()
    bad = next(line for line in src if "00026" in line and "0x9a" in line and "SEQ 0xe." in line)
    replay = bad.replace("system-alert-00026: IPSec tunnel on interface ethernet0/2 with tunnel ID 0x9a received a "
                         "packet with a bad SPI. 192.0.2.1->198.51.100.1/156",
                         "system-critical-00042: Replay packet detected on IPSec tunnel on ethernet0/2 with tunnel "
                         "ID 0x9a! From 192.0.2.1 to 198.51.100.1/156")
    assert replay != bad
    log = tmp_path / "with-replay.log"
    log.write_text("\n".join(src + [replay]) + "\n")
    a = analyze(PCAPS / "lab" / "icmp-net-unreach.pcap", [log], log_tz="Europe/Berlin")
    assert "replay" in set(a.lines["kind"])
    f = records(a.findings[(a.findings["cause"] == "embedded-icmp")])[0]
    assert (f["verdict"], f["lines_explained"], f["lines_covered"]) == ("confirmed", 2, 2)
    assert not set(a.lines.loc[f["event_ids"], "kind"]) - {"bad-spi"}


def test_thresholds_are_one_object_and_the_readme_states_their_values():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Reading a verdict")[1].split("\n## ")[0]
    for name, value in Thresholds().as_dict().items():
        assert f"`{name}` = {value:g}" in section, name


def test_readme_shows_the_sample_text_report_as_it_is_printed(capsys, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    command = "-e fixtures/logs/one-tunnel-icmp-stale/screenos-syslog.log --log-tz America/Chicago\n"
    sample = readme.split(command, 1)[1].split("```", 1)[0]
    assert f"Verdict  tunnel 0x67: not covered by the capture (2 lines); {VERDICT}" in sample
    monkeypatch.chdir(ROOT)
    _, out, _ = run(["analyze", "fixtures/pcaps/lab/icmp-net-unreach.pcap", "fixtures/pcaps/lab2/spi-mismatch.pcap",
                     "-e", "fixtures/logs/one-tunnel-icmp-stale/screenos-syslog.log", "--log-tz", "America/Chicago"],
                    capsys)
    assert out == sample


@pytest.mark.parametrize("option,name", [("-o", "r.txt"), ("--evidence", "e.pcap"), ("--report", "r.html")])
def test_outputs_follow_one_rule(option, name, tmp_path, capsys):
    """-o, --evidence and --report alike: a folder is a one-line error (exit 1) before any
    work; a missing folder is made."""
    capture = str(PCAPS / "lab" / "icmp-net-unreach.pcap")
    code, out, err = run(["analyze", capture, option, str(tmp_path)], capsys)
    assert code == 1 and err.startswith("Error: ") and option in err and len(err.strip().splitlines()) == 1, err
    target = tmp_path / "missing" / name
    code, _, err = run(["analyze", capture, option, str(target)], capsys)
    assert code == 0 and target.is_file(), err


def test_every_vendor_profile_states_its_facts_with_a_source():
    assert set(PROFILES) == {"screenos", "junos", "asa", "ios", "fortios", "panos", "strongswan", "libreswan",
                             "linux"}
    for key, p in PROFILES.items():
        if p.replay_window is not None:
            assert p.replay_window_fact.source is not None, key
        if p.bad_spi_rate_limit_s is not None:
            assert p.rate_limit.source is not None, key
        assert p.version_command and p.sa_command and p.collect, key
    assert PROFILES["screenos"].icmp_quote_affected("5.2.0r1") is True
    assert PROFILES["screenos"].icmp_quote_affected("6.3.0r12") is False
    assert PROFILES["screenos"].icmp_quote_affected(None) is None
    assert all(p.icmp_quote_affected("5.0") is None for k, p in PROFILES.items() if k != "screenos")


def test_lines_with_their_own_utc_offset_get_no_log_tz_advice():
    found = notes(offset(-6 * 3600 + 42), when=pd.Timestamp("2026-11-26 20:05", tz="UTC"), zoned_lines=True)
    assert [n.kind for n in found] == ["zone"]
    assert "carry their own UTC offset" in found[0].text and "--log-tz" not in found[0].text
