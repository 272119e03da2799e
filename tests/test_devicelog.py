"""The committed device logs (fixtures/logs/) are exactly what the device model
(fixtures/devicelog/) writes, and they keep the promises its README makes.

Checks read the log text itself where they can (rate limits, clock offset and zone), and
tie the lines to the captures through sources other than the generator: the lab's truth
files, the kernel's own XfrmInNoStates counter, tshark.
"""
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import require_tshark

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "fixtures" / "logs"
sys.path.insert(0, str(ROOT / "fixtures" / "devicelog"))
import devicelog  # noqa: E402  (a fixture generator, not part of the package)

SCENARIOS = {s.name: s for s in devicelog.SCENARIOS}
NAMES = sorted(SCENARIOS)
CAUSES = {"embedded-icmp", "stale-sa", "rekey-collision", "spi-before-install"}
REPLAY_CAUSES = {"duplicated-path", "reordered-beyond-window", "sequence-restart"}
IOS_CONT = re.compile(r"^\s+connection id=\d+, sequence number=\d+$")    # 2nd line of PKT_REPLAY_ERR

SYSLOG = re.compile(r"^(\w{3}) ([ \d]\d) (\d\d:\d\d:\d\d) (\S+) (\S+): NetScreen device_id=(\S+)  \[Root\]"
                    r"system-(\w+)-(\d{5})(\(traffic\))?: (.*)$")
TRAILER = re.compile(r" \((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\)$")
BAD_SPI = re.compile(r"IPSec tunnel on interface (\S+) with tunnel ID 0x([0-9a-f]+) received a packet with a "
                     r"bad SPI\. (\S+)->(\S+)/(\d+), (ESP|AH), SPI 0x([0-9a-f]+), SEQ 0x([0-9a-f]+)\.")
P2 = re.compile(r"Phase 2 msg ID [0-9a-f]{8}: Completed negotiations with SPI ([0-9a-f]{8}), tunnel ID (\d+)")


def truth(name):
    return json.loads((LOGS / name / "truth.json").read_text())


def lines(name, file):
    return (LOGS / name / file).read_text().splitlines()


def entries(name, file):
    """(text, truth entry) for every line of a log file that stands for an event."""
    text = lines(name, file)
    return [(text[e["line"] - 1], e) for e in truth(name)["files"][file]["lines"]]


def local(t, name):
    """The naive local reading of true UTC time t on this scenario's device clock, for the
    offset arithmetic: reading - true time = clock offset + zone offset."""
    p = truth(name)["params"]
    return datetime.fromtimestamp(t, timezone.utc).astimezone(ZoneInfo(p["tz"])).replace(tzinfo=None)


def skew(reading, t, name):
    """reading - (true time + clock offset + zone offset), in seconds: in (-1, 0] when the
    device wrote its clock truncated to the second."""
    p = truth(name)["params"]
    return (reading - local(t, name)).total_seconds() - p["clock_offset_s"]


# --- the committed logs are the generator's output ---------------------------------------

def test_every_scenario_is_committed_and_nothing_else():
    committed = {p.name for p in LOGS.iterdir() if p.is_dir() and p.name != "reference"}
    assert committed == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_logs_are_what_the_generator_writes(name, tmp_path):
    devicelog.main(["--scenario", name, "--out", str(tmp_path)])
    fresh = {p.name: p.read_text() for p in (tmp_path / name).iterdir()}
    committed = {p.name: p.read_text() for p in (LOGS / name).iterdir()}
    assert sorted(fresh) == sorted(committed)
    for file in fresh:
        assert fresh[file] == committed[file], f"{name}/{file} differs: run fixtures/devicelog/make_all.sh"


def test_the_generator_and_the_analyzer_stay_apart():
    def imports(files):
        return {m for p in files for m in re.findall(r"^\s*(?:from|import)\s+(\w+)", p.read_text(), re.M)}
    assert "badspi_pcap" not in imports((ROOT / "fixtures" / "devicelog").glob("*.py"))
    assert not {"devicelog", "gwmodel", "logforms", "pcapdecode"} & imports((ROOT / "badspi_pcap").rglob("*.py"))


def test_make_all_runs_the_generator(tmp_path):
    out = subprocess.run(["sh", str(ROOT / "fixtures/devicelog/make_all.sh"), "--out", str(tmp_path)],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHON": sys.executable})
    assert out.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == NAMES


# --- truth files ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_truth_covers_every_line_once(name):
    t = truth(name)
    for file, spec in t["files"].items():
        header = 1 if spec["form"] == "screenos-event" else 0
        starts = [n for n, text in enumerate(lines(name, file), 1) if not IOS_CONT.match(text)]
        assert [e["line"] for e in spec["lines"]] == starts[header:]


@pytest.mark.parametrize("name", NAMES)
def test_each_line_belongs_to_a_cause_of_its_scenario(name):
    t = truth(name)
    # A tunnel may show in two captures (one-tunnel-icmp-stale): the cause is per capture.
    expected = {(c["tunnel_id"], Path(c["pcap"]).name): c["expected_cause"] for c in t["captures"]}
    assert set(expected.values()) <= CAUSES | REPLAY_CAUSES
    for file, spec in t["files"].items():
        for e in spec["lines"]:
            assert e["cause"] in set(expected.values()) | {"unrelated", "unknown"}, (file, e)
            if e["cause"] in CAUSES | REPLAY_CAUSES:
                assert e["cause"] == expected[e["tunnel_id"], e["capture"]], (file, e)
                assert e["covered"] and e["capture"], (file, e)
                assert (e["kind"] == "replay") == (e["cause"] in REPLAY_CAUSES), (file, e)
    shown = [e for e in t["files"]["screenos-syslog.log"]["lines"] if e["kind"] in ("bad-spi", "replay")]
    for (tid, capture), cause in expected.items():     # every capture shows its cause in its lines
        assert any(e["tunnel_id"] == tid and e["capture"] == capture and e["cause"] == cause for e in shown), \
            (tid, cause)


@pytest.mark.parametrize("name", NAMES)
def test_bad_spi_text_matches_truth(name):
    for text, e in entries(name, "screenos-syslog.log"):
        m = BAD_SPI.search(text)
        assert bool(m) == (e["kind"] == "bad-spi"), text
        if m:
            assert int(m[2], 16) == e["tunnel_id"]
            assert (int(m[7], 16), int(m[8], 16)) == (int(e["spi"], 16), e["seq"])


@pytest.mark.parametrize("name", NAMES)
def test_spis_are_the_devices_own(name):
    """Embedded ICMP shows the device's outbound SPIs, the other causes its inbound ones."""
    t = truth(name)
    caps = {(c["tunnel_id"], Path(c["pcap"]).name): c for c in t["captures"]}
    for e in t["files"]["screenos-syslog.log"]["lines"]:
        if e["kind"] == "bad-spi" and e["cause"] in CAUSES:
            side = "outbound" if e["cause"] == "embedded-icmp" else "inbound"
            assert e["spi"] in caps[(e["tunnel_id"], e["capture"])][f"device_{side}_spis"], e


# --- rate limits -------------------------------------------------------------------------------

def device_times(name, form_file, pattern, key):
    """{key: [device datetime]} of the lines matching pattern."""
    out = {}
    for text in lines(name, form_file):
        m = pattern.search(text)
        if m:
            out.setdefault(key(m, text), []).append(text)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_screenos_bad_spi_at_most_once_per_tunnel_per_10s(name):
    log_self = truth(name)["params"]["log_self"]
    gaps = []
    for file in ("screenos-syslog.log", "screenos-event.log"):
        per_tunnel = {}
        for text in lines(name, file):
            m = BAD_SPI.search(text)
            if m:
                stamp = TRAILER.search(text)[1] if file.endswith("syslog.log") else text[:19]
                per_tunnel.setdefault(m[2], []).append(datetime.fromisoformat(stamp))
        for times in per_tunnel.values():
            times.sort()
            gaps += [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    if log_self:
        assert min(gaps) < 10, "log-self should log every packet"
    else:
        assert all(g >= 10 for g in gaps), gaps


@pytest.mark.parametrize("name", [n for n in NAMES if "asa" in SCENARIOS[n].forms])
def test_asa_402114_at_most_once_per_5s(name):
    stamps = [datetime.strptime(t[:20], "%b %d %Y %H:%M:%S") for t in lines(name, "asa.log") if "402114" in t]
    assert stamps
    assert all((b - a).total_seconds() >= 5 for a, b in zip(stamps, stamps[1:]))


def test_log_self_logs_every_icmp_error():
    """With log-self there is one 00026 line per ICMP error the lab truth lists."""
    lab = json.loads((ROOT / "fixtures/pcaps/lab/icmp-net-unreach.truth.json").read_text())
    lines_ = [e for _, e in entries("icmp-net-unreach-logself", "screenos-syslog.log")
              if e["cause"] == "embedded-icmp"]
    assert sorted(f for e in lines_ for f in e["frames"]) == [i["frame"] for i in lab["icmp_errors"]]


def test_rate_limited_lines_stand_for_every_icmp_error():
    lab = json.loads((ROOT / "fixtures/pcaps/lab/icmp-net-unreach.truth.json").read_text())
    lines_ = [e for _, e in entries("icmp-net-unreach", "screenos-syslog.log") if e["cause"] == "embedded-icmp"]
    assert len(lines_) < len(lab["icmp_errors"])
    covered = sorted(f for e in lines_ for f in e["frames"] + e["suppressed_frames"])
    assert covered == [i["frame"] for i in lab["icmp_errors"]]


# --- clock offset and time zone -------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_device_times_carry_the_clock_offset_and_zone(name):
    p = truth(name)["params"]
    assert p["clock_offset_s"] != 0 and p["tz"] != "UTC"
    checked = 0
    for text, e in entries(name, "screenos-syslog.log"):
        m = TRAILER.search(text)
        if not m:
            continue
        trailing = datetime.fromisoformat(m[1])
        assert -1 < skew(trailing, e["t"], name) <= 0, text
        h = SYSLOG.match(text)
        header = datetime.strptime(f"{trailing.year} {h[1]} {h[2]} {h[3]}", "%Y %b %d %H:%M:%S")
        assert (header - trailing).total_seconds() in (0, 1), text     # the relay's receive time
        checked += 1
    for text, e in entries(name, "screenos-event.log"):
        assert -1 < skew(datetime.fromisoformat(text[:19]), e["t"], name) <= 0, text
    assert checked


@pytest.mark.parametrize("name", [n for n in NAMES if "asa" in SCENARIOS[n].forms])
def test_asa_and_strongswan_times_carry_the_clock_offset_and_zone(name):
    for text, e in entries(name, "asa.log"):
        assert -1 < skew(datetime.strptime(text[:20], "%b %d %Y %H:%M:%S"), e["t"], name) <= 0, text
    for text, e in entries(name, "strongswan.log") if "strongswan" in SCENARIOS[name].forms else []:
        stamp = datetime.strptime(f"{local(e['t'], name).year} {text[:15]}", "%Y %b %d %H:%M:%S")
        assert -1 <= skew(stamp, e["t"], name) <= 0, text
        if m := re.search(r"audit\((\d+\.\d+):", text):     # the kernel's epoch: offset, no zone
            assert abs(float(m[1]) - e["t"] - truth(name)["params"]["clock_offset_s"]) < 0.001


# --- the lines against the captures ----------------------------------------------------------

def lab_truth(pcap):
    return json.loads((ROOT / pcap).with_suffix(".truth.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_lines_lie_inside_and_outside_the_capture_windows(name):
    t = truth(name)
    start = min(datetime.fromisoformat(c["window_utc"][0]) for c in t["captures"])
    end = max(datetime.fromisoformat(c["window_utc"][1]) for c in t["captures"])
    when = [datetime.fromisoformat(e["time_utc"]) for _, e in entries(name, "screenos-syslog.log")]
    assert any(w < start for w in when) and any(w > end for w in when)
    syslog = t["files"]["screenos-syslog.log"]["lines"]
    unrelated = sum(e["cause"] == "unrelated" for e in syslog) / len(syslog)
    assert 0.3 <= unrelated <= 0.6
    assert any(e["kind"] == "bad-spi" and not e["covered"] for e in syslog)   # "not covered" cases


@pytest.mark.parametrize("name", NAMES)
def test_embedded_icmp_lines_quote_what_the_lab_recorded(name):
    """SPI, SEQ and quoted addresses come from ICMP errors listed in the lab's truth file."""
    for text, e in entries(name, "screenos-syslog.log"):
        if e["cause"] != "embedded-icmp":
            continue
        cap = next(c for c in truth(name)["captures"] if c["tunnel_id"] == e["tunnel_id"])
        icmp = {i["frame"]: i for i in lab_truth(cap["pcap"])["icmp_errors"]}[e["frames"][0]]
        m = BAD_SPI.search(text)
        assert (m[3], m[4]) == (icmp["quoted"]["src"], icmp["quoted"]["dst"]) == (cap["local"], cap["peer"])
        assert (int(m[7], 16), int(m[8], 16)) == (int(icmp["quoted"]["esp_spi"], 16), icmp["quoted"]["esp_seq"])


@pytest.mark.parametrize("name", ["spi-mismatch", "mixed-icmp-stale"])  # lab and lab2 runs
def test_stale_sa_packets_match_the_kernels_own_count(name):
    """Every ESP packet the device drops on the missing SA is one gwA's kernel counted."""
    t = truth(name)
    for cap in (c for c in t["captures"] if c["expected_cause"] == "stale-sa"):
        lab = lab_truth(cap["pcap"])
        frames = [f for e in t["files"]["screenos-syslog.log"]["lines"] if e["capture"] == Path(cap["pcap"]).name
                  and e["cause"] == "stale-sa" for f in e["frames"] + e["suppressed_frames"]]
        assert len(frames) == lab["gwA_xfrm_stat_delta_while_sa_missing"]["XfrmInNoStates"] > 0


def test_spi_before_install_precedes_its_phase2_line():
    name = "ikev2-spi-before-install"
    for file in ("screenos-syslog.log", "screenos-event.log"):
        seen = {}
        rows = entries(name, file)
        if file == "screenos-event.log":
            rows = rows[::-1]                          # get event lists newest first
        for text, e in rows:
            if e["kind"] == "bad-spi" and e["cause"] == "spi-before-install":
                seen.setdefault(e["spi"], e)
                assert e["seq"] <= 3                   # the peer's first packets on the SA
            if e["kind"] == "p2-complete" and e["cause"] == "spi-before-install":
                assert int(P2.search(text)[1], 16) == int(e["spi"], 16)
                assert e["spi"] in seen and seen[e["spi"]]["t"] < e["t"]
        assert len(seen) == 3


@pytest.mark.parametrize("name", ["ikev2-rekey", "ikev1-rekey", "mixed-rekey-natt"])
def test_rekey_collision_lines_cluster_at_two_crossing_phase2s(name):
    rows = [e for _, e in entries(name, "screenos-syslog.log") if e["cause"] == "rekey-collision"]
    p2 = sorted(e["t"] for e in rows if e["kind"] == "p2-complete")
    assert any(b - a < 1 for a, b in zip(p2, p2[1:])), "two Phase 2s completing together"
    first_bad = min((e for e in rows if e["kind"] == "bad-spi"), key=lambda e: e["t"])
    assert first_bad["seq"] == 1 and first_bad["t"] - p2[0] < 2
    completed = {e["spi"] for e in rows if e["kind"] == "p2-complete"}
    assert {e["spi"] for e in rows if e["kind"] == "bad-spi"} <= completed


def test_one_tunnel_log_has_two_causes_on_one_tunnel():
    t = truth("one-tunnel-icmp-stale")
    assert {c["tunnel_id"] for c in t["captures"]} == {0x7}
    assert {c["expected_cause"] for c in t["captures"]} == {"embedded-icmp", "stale-sa"}
    causes = {e["cause"] for e in t["files"]["screenos-syslog.log"]["lines"]
              if e["kind"] == "bad-spi" and e["tunnel_id"] == 0x7}
    assert {"embedded-icmp", "stale-sa"} <= causes


@pytest.mark.parametrize("name", ["mixed-icmp-stale", "mixed-rekey-natt"])
def test_mixed_log_has_two_tunnels_with_two_causes(name):
    t = truth(name)
    assert len({c["tunnel_id"] for c in t["captures"]}) == 2
    assert len({c["expected_cause"] for c in t["captures"]}) == 2
    tunnels = {m[2] for m in map(BAD_SPI.search, lines(name, "screenos-syslog.log")) if m}
    assert {f"{c['tunnel_id']:x}" for c in t["captures"]} <= tunnels


def test_peer_packets_behind_bad_spi_lines_per_tshark():
    """The ESP frames behind the rekey and SPI-before-install lines carry that SPI and SEQ
    from the peer to the device, as tshark reads them."""
    require_tshark()
    for name in ("ikev2-rekey", "ikev2-spi-before-install", "ikev1-rekey", "spi-mismatch"):
        cap = truth(name)["captures"][0]
        out = subprocess.run(["tshark", "-n", "-r", str(ROOT / cap["pcap"]), "-Y", "esp", "-T", "fields",
                              "-e", "frame.number", "-e", "ip.src", "-e", "ip.dst", "-e", "esp.spi",
                              "-e", "esp.sequence"], capture_output=True, text=True, check=True).stdout
        esp = {int(r[0]): r[1:] for r in (line.split("\t") for line in out.splitlines())}
        for e in truth(name)["files"]["screenos-syslog.log"]["lines"]:
            if e["kind"] == "bad-spi" and e["covered"]:
                src, dst, spi, seq = esp[e["frames"][0]]
                assert (src, dst) == (cap["peer"], cap["local"])
                assert (int(spi, 16), int(seq)) == (int(e["spi"], 16), e["seq"])


@pytest.mark.parametrize("name", NAMES)
def test_get_sa_shows_the_devices_spi_pairs(name):
    t = truth(name)
    rows = [r.split() for r in lines(name, "get-sa.txt")[2:]]
    assert lines(name, "get-sa.txt")[0] == f"total configured sa: {len(rows) // 2}"
    caps = {c["tunnel_id"]: c for c in t["captures"]}     # a tunnel in two captures: the later one's SAs
    for (hex_in, _, _, _, spi_in, *_), (hex_out, _, _, _, spi_out, *_) in zip(rows[::2], rows[1::2]):
        assert hex_in[-1] == "<" and hex_out[-1] == ">" and hex_in[:-1] == hex_out[:-1]
        cap = caps[int(hex_in[:-1], 16)]
        assert f"0x{spi_in}" in cap["device_inbound_spis"] and f"0x{spi_out}" in cap["device_outbound_spis"]


def test_adhoc_cli_writes_one_log_to_stdout(capsys):
    devicelog.main(["--pcap", str(ROOT / "fixtures/pcaps/lab/natt.pcap"), "--form", "screenos-event",
                    "--clock-offset", "3600", "--tz", "Europe/Berlin", "--log-self"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Date       Time     Module Level  Type Description")
    bad = [r for r in out if BAD_SPI.search(r)]
    assert len(bad) == 16 + 2                       # every ICMP error, plus the two "unknown" ones
    assert out[-1][:19] <= out[1][:19]              # newest first


# --- anti-replay ---------------------------------------------------------------------------------

REPLAY_NAMES = [n for n in NAMES if any(c.replay_window for c in SCENARIOS[n].captures)]
IOS_NAMES = [n for n in REPLAY_NAMES if "ios" in SCENARIOS[n].forms]


def xfrm_delta(pcap, counter="XfrmInStateSeqError"):
    def read(which):
        path = (ROOT / pcap).with_name(Path(pcap).stem + f".xfrm_stat.{which}.txt")
        return int(dict(line.split() for line in path.read_text().splitlines())[counter])
    return read("after") - read("before")


@pytest.mark.parametrize("name", REPLAY_NAMES)
def test_screenos_replay_lines_are_the_kernels_drops(name):
    """00042 has no documented rate limit: one line per packet the window drops, which is
    the lab kernel's own XfrmInStateSeqError count, on exactly the frames the lab's
    esp_sequence_analysis says fail a 32-packet window."""
    for c in truth(name)["captures"]:
        lab = lab_truth(c["pcap"])
        replay = [e for e in truth(name)["files"]["screenos-syslog.log"]["lines"]
                  if e["kind"] == "replay" and e["capture"] == Path(c["pcap"]).name]
        failing = [x["frame"] for sa in lab.get("esp_sequence_analysis", {}).get("per_spi", [])
                   for x in sa["duplicates"] + [y for y in sa["late"] if y["outside_window"]]]
        assert sorted(f for e in replay for f in e["frames"]) == sorted(failing)
        assert c["model"]["replay_drops"] == len(failing)
        if "esp_sequence_analysis" in lab:
            assert len(replay) == xfrm_delta(c["pcap"])


@pytest.mark.parametrize("name", REPLAY_NAMES)
def test_replay_text_matches_truth_in_every_form(name):
    screenos = re.compile(r"Replay packet detected on IPSec tunnel on \S+ with tunnel ID 0x([0-9a-f]+)! From "
                          r"(\S+) to (\S+)/\d+, ESP, SPI 0x([0-9a-f]+), SEQ 0x([0-9a-f]+)\.")
    asa = re.compile(r"%ASA-4-402119: IPSEC: Received an ESP packet \(SPI= 0x([0-9A-F]{8}), sequence number= "
                     r"0x([0-9A-F]+)\) from (\S+) \(user= \S+\) to (\S+) that failed anti-replay checking\.$")
    ios = re.compile(r"%CRYPTO-4-PKT_REPLAY_ERR: decrypt: replay check failed$")
    checked = 0
    for file, pattern in (("screenos-syslog.log", screenos), ("screenos-event.log", screenos), ("asa.log", asa)):
        for text, e in entries(name, file):
            m = pattern.search(text)
            assert bool(m) == (e["kind"] == "replay"), text
            if m and file == "asa.log":
                assert (int(m[1], 16), int(m[2], 16)) == (int(e["spi"], 16), e["seq"])
            elif m:
                assert (int(m[4], 16), int(m[5], 16)) == (int(e["spi"], 16), e["seq"])
            checked += bool(m)
    ios_lines = lines(name, "ios.log") if name in IOS_NAMES else []
    for text, e in entries(name, "ios.log") if name in IOS_NAMES else []:
        assert bool(ios.search(text)) == (e["kind"] == "replay"), text
        if e["kind"] == "replay":
            second = re.fullmatch(r"\s+connection id=(\d+), sequence number=(\d+)", ios_lines[e["line"]])
            assert (int(second[1]), int(second[2])) == (e["conn_id"], e["seq"])
            checked += 1
    assert checked


@pytest.mark.parametrize("name", IOS_NAMES)
def test_replay_rate_limits_asa_5s_ios_60s(name):
    asa = [datetime.strptime(t[:20], "%b %d %Y %H:%M:%S") for t in lines(name, "asa.log") if "402119" in t]
    ios = [datetime.strptime(t[1:20], "%b %d %H:%M:%S.%f") for t in lines(name, "ios.log") if "PKT_REPLAY_ERR" in t]
    assert asa and ios
    assert all((b - a).total_seconds() >= 5 for a, b in zip(asa, asa[1:]))
    assert all((b - a).total_seconds() >= 60 for a, b in zip(ios, ios[1:]))
    # the dropped lines are kept as the frames the logged line stands for (the limit is per
    # message, so a line of the uncaptured tunnel may stand for captured packets)
    logged = [e for e in truth(name)["files"]["asa.log"]["lines"] if e["kind"] == "replay"]
    screenos = [e for e in truth(name)["files"]["screenos-syslog.log"]["lines"] if e["kind"] == "replay"
                and e["capture"]]
    assert sorted(f for e in logged for f in e["frames"] + e["suppressed_frames"]) == \
        sorted(f for e in screenos for f in e["frames"])


@pytest.mark.parametrize("name", IOS_NAMES)
def test_ios_times_carry_the_clock_offset_and_zone_in_ms(name):
    for text, e in entries(name, "ios.log"):
        stamp = datetime.strptime(f"{local(e['t'], name).year} {text[1:20]}", "%Y %b %d %H:%M:%S.%f")
        assert -0.001 < skew(stamp, e["t"], name) <= 0, text


@pytest.mark.parametrize("name", IOS_NAMES)
def test_ios_sa_table_maps_the_connection_id_to_the_inbound_spi(name):
    text = (LOGS / name / "show-crypto-ipsec-sa.txt").read_text()
    inbound = re.search(r"inbound esp sas:\n\s+spi: 0x([0-9A-F]+)\(\d+\)\n(?:.*\n){2}\s+conn id: (\d+),", text)
    for c in truth(name)["captures"]:
        assert c["model"]["ios_conn_id_inbound"] == {f"0x{int(inbound[1], 16):08x}": int(inbound[2])}


def test_one_tunnel_has_bad_spi_and_replay_lines():
    t = truth("mixed-stale-replay")
    for file in ("screenos-syslog.log", "screenos-event.log", "asa.log"):
        causes = {(e["tunnel_id"], e["kind"], e["cause"]) for e in t["files"][file]["lines"] if e["capture"]}
        assert causes == {(0x9A, "bad-spi", "stale-sa"), (0x9A, "replay", "duplicated-path")}, file
