"""`analyze` on every fixture pair: real lab captures with logs written by the device
model in fixtures/devicelog (which the analyzer never imports).  Each assertion is
against the model's truth file: the cause of every line, the clock offset, the counts."""
import json

import pytest

from badspi_pcap.analysis import analyze
from badspi_pcap.report.common import action, icmp_text, records, summary
from capture_builders import natt_short_quotes
from conftest import FIXTURES, PCAPS

pytestmark = pytest.mark.filterwarnings("ignore::badspi_pcap.capture.CaptureWarning")   # damaged inputs on purpose
ROOT = FIXTURES.parent
SCENARIOS = sorted(p.parent.name for p in (FIXTURES / "logs").glob("*/truth.json"))
CASES = [(s, f) for s in SCENARIOS
         for f in sorted(json.loads((FIXTURES / "logs" / s / "truth.json").read_text())["files"])
         if f.endswith(".log")]


def truth_of(scenario):
    return json.loads((FIXTURES / "logs" / scenario / "truth.json").read_text())


def run(scenario, form, **kw):
    truth = truth_of(scenario)
    captures = [ROOT / c["pcap"] for c in truth["captures"]]
    kw.setdefault("log_tz", truth["params"]["tz"])
    kw.setdefault("log_self", truth["params"]["log_self"])
    if form == "ios.log":     # IOS replay lines name a connection id: its SA table gives the SPI
        kw.setdefault("sas", [FIXTURES / "logs" / scenario / "show-crypto-ipsec-sa.txt"])
    return truth, analyze(captures, [FIXTURES / "logs" / scenario / form], **kw)


def tunnel_name(capture_truth, form):
    if form.startswith("screenos"):
        return f"tunnel 0x{capture_truth['tunnel_id']:x}"
    return f"peer {capture_truth['peer']}"


def same_cause(truth_cause, ours):
    return truth_cause == ours or (truth_cause in ("unknown", "unrelated") and ours == "not-covered")


@pytest.mark.parametrize("scenario,form", CASES, ids=[f"{s}/{f}" for s, f in CASES])
def test_verdict_offset_and_every_line(scenario, form):
    truth, a = run(scenario, form)
    assert a.clock_offset.method == "spi+seq"
    assert abs(a.clock_offset.seconds - truth["params"]["clock_offset_s"]) < 1.0
    for cap in truth["captures"]:
        f = a.findings[(a.findings["tunnel"] == tunnel_name(cap, form))
                       & (a.findings["cause"] == cap["expected_cause"])]
        shown = a.findings[["tunnel", "cause", "verdict", "lines_exact", "lines_explained"]]
        assert list(f["verdict"]) == ["confirmed"], shown.to_string()
        want = [ln for ln in truth["files"][form]["lines"]
                if ln["cause"] == cap["expected_cause"] and ln["tunnel_id"] == cap["tunnel_id"]
                and ln["kind"] in ("bad-spi", "replay")]
        assert int(f["lines_explained"].iloc[0]) == len(want)
    lines = {ln["line"]: ln for ln in truth["files"][form]["lines"]}
    for n, cause in zip(a.lines["line"], a.lines["cause"]):
        assert same_cause(lines[n]["cause"], cause), (n, lines[n], cause)
    # Every bad-SPI line of the log was classified, none dropped.
    assert len(a.lines) == sum(1 for ln in lines.values() if ln["kind"] in ("bad-spi", "replay"))


def test_embedded_icmp_is_ruled_out_where_the_capture_sees_the_tunnel_without_icmp():
    _, a = run("spi-mismatch", "screenos-syslog.log")
    ruled = a.findings[(a.findings["cause"] == "embedded-icmp")]
    assert list(ruled["verdict"]) == ["ruled-out"]
    assert "no ICMP error quotes SPI 0x2000b002" in summary(records(ruled)[0])


def test_rate_limit_windows_counted_both_ways():
    _, a = run("icmp-net-unreach", "screenos-syslog.log")
    f = a.findings[(a.findings["cause"] == "embedded-icmp")].iloc[0]
    assert (f["icmp_errors"], f["expected_lines"], f["windows_matched"], f["lines_explained"]) == (35, 2, 2, 2)
    _, a = run("icmp-net-unreach-logself", "screenos-syslog.log")
    f = a.findings[(a.findings["cause"] == "embedded-icmp")].iloc[0]
    assert (f["icmp_errors"], f["expected_lines"], f["windows_matched"], f["lines_explained"]) == (35, 35, 35, 35)


def test_a_time_zone_mistake_shows_as_an_hour_of_offset():
    truth, a = run("icmp-net-unreach", "screenos-syslog.log", log_tz=None)
    # Europe/Berlin is UTC+1 in November: read as UTC, the device seems an hour ahead.
    assert abs(a.clock_offset.seconds - (truth["params"]["clock_offset_s"] + 3600)) < 1.0
    assert "confirmed" in set(a.findings.loc[a.findings["cause"] == "embedded-icmp", "verdict"])


def test_a_given_clock_offset_is_used_as_given():
    _, a = run("icmp-net-unreach", "screenos-syslog.log", clock_offset="+37")
    assert (a.clock_offset.method, a.clock_offset.seconds) == ("given", 37.0)
    assert "confirmed" in set(a.findings["verdict"])
    _, wrong = run("icmp-net-unreach", "screenos-syslog.log", clock_offset="-1h")
    assert "confirmed" not in set(wrong.findings["verdict"])


def test_lines_outside_the_capture_are_not_covered_never_ruled_out():
    truth, a = run("natt", "screenos-syslog.log")
    outside = a.lines[~a.lines["covered"]]
    assert len(outside) == sum(1 for ln in truth["files"]["screenos-syslog.log"]["lines"]
                               if ln["kind"] == "bad-spi" and not ln["covered"])
    assert set(outside["cause"]) == {"not-covered"}
    nc = a.findings[a.findings["cause"] == "not-covered"]
    assert set(nc["verdict"]) == {"not-covered"}
    assert set(outside["coverage"]) <= {"outside the capture's time", "tunnel not seen in the capture"}


def test_a_capture_without_ipsec_covers_nothing():
    truth = truth_of("icmp-net-unreach")
    a = analyze(PCAPS / "corpus" / "zeek-smtp.pcap", [FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log"],
                log_tz=truth["params"]["tz"])
    assert len(a.lines) > 0 and not a.lines["covered"].any()
    assert set(a.findings["verdict"]) == {"not-covered"}
    assert a.clock_offset.method == "assumed"


def test_capture_alone_reports_icmp_errors_quoting_tunnels():
    a = analyze(PCAPS / "lab" / "icmp-frag-needed.pcap")
    f = a.findings
    assert list(f["tunnel"]) == ["SPI 0x1000a001"]
    row = records(f)[0]
    assert (row["cause"], row["verdict"], row["icmp_errors"], row["routers"]) == \
        ("embedded-icmp", "inconclusive", 7, ["192.0.2.254"])
    assert icmp_text(row) == "7x fragmentation needed, MTU 1200"
    assert "path MTU of 1200 bytes" in action(row)
    assert analyze(PCAPS / "lab" / "ikev2-rekey.pcap").findings.empty


def test_nat_t_quotes_without_the_spi_still_match_by_address_pair(tmp_path):
    capture = natt_short_quotes(tmp_path)
    truth = truth_of("natt")
    a = analyze(capture, [FIXTURES / "logs" / "natt" / "screenos-syslog.log"], log_tz=truth["params"]["tz"])
    icmp = a.packets[a.packets["kind"] == "icmp-error"]
    assert len(icmp) == 16 and icmp["inner_spi"].isna().all() and (icmp["inner_dport"] == 4500).all()
    f = a.findings[a.findings["cause"] == "embedded-icmp"].iloc[0]
    assert f["verdict"] in ("confirmed", "likely")
    assert f["icmp_errors"] == 16
    assert set(a.matches.loc[a.matches["role"] == "quoted-by-icmp", "key"]) == {"tuple"}


def test_screenos_version_sharpens_the_verdict():
    _, old = run("icmp-net-unreach", "screenos-syslog.log", screenos_version="5.2.0r1")
    _, new = run("icmp-net-unreach", "screenos-syslog.log", screenos_version="6.3.0r12")
    v_old = old.findings.loc[old.findings["cause"] == "embedded-icmp", "verdict"].tolist()
    v_new = new.findings.loc[new.findings["cause"] == "embedded-icmp", "verdict"].tolist()
    assert v_old == ["confirmed"] and v_new == ["likely"]
    assert "should not log these" in summary(records(new.findings[new.findings["cause"] == "embedded-icmp"])[0])


def test_sa_table_shows_which_spi_is_the_devices_own():
    """Without knowing the device's address, the SA table's outbound SPI proves the
    quoted packets were the device's own."""
    from badspi_pcap import diagnose, read_sas
    _, a = run("icmp-net-unreach", "screenos-syslog.log")
    sas = read_sas(FIXTURES / "logs" / "icmp-net-unreach" / "get-sa.txt")
    assert set(sas.loc[sas["direction"] == "out", "spi"]) == {0x1000A001}
    without = diagnose(a.lines, a.matches, a.packets, set(), a.clock_offset.seconds, a.options)
    with_sa = diagnose(a.lines, a.matches, a.packets, set(), a.clock_offset.seconds, a.options, sas)
    pick = lambda f: f.loc[f["cause"] == "embedded-icmp", "verdict"].tolist()  # noqa: E731
    assert pick(without) == ["likely"] and pick(with_sa) == ["confirmed"]
