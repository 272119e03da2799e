"""Counters before/after (real outputs: the lab kernel's /proc/net/xfrm_stat, the cSRX
`show security ipsec statistics` and the SSG `get sa stat` samples in fixtures/logs/reference)
and their replay deltas against the capture."""
import pandas as pd
import pytest
from click.testing import CliRunner

from badspi_pcap.capture import read_capture
from badspi_pcap.cli import cli, main
from badspi_pcap.sas.counters import counter_deltas, counter_kind, replay_check, with_kinds
from badspi_pcap.errors import UsageError
from badspi_pcap.sas import parse_sas
from badspi_pcap.sequence import sequence_table
from conftest import FIXTURES, PCAPS

LAB = PCAPS / "lab"
REF = FIXTURES / "logs" / "reference"


def snapshots(name):
    return [parse_sas([LAB / f"{name}.xfrm_stat.{w}.txt"]).counters for w in ("before", "after")]


@pytest.mark.parametrize("name, delta", [("replay-reorder", 7), ("replay-duplicate", 65)])
def test_xfrm_stat_replay_delta_agrees_with_the_capture_at_the_kernels_window(name, delta):
    deltas = counter_deltas(*snapshots(name))
    changed = deltas[deltas["delta"] != 0]
    assert list(zip(changed["name"], changed["kind"], changed["delta"])) == [("XfrmInStateSeqError", "replay", delta)]
    seq = sequence_table(read_capture(LAB / f"{name}.pcap").packets, 32)
    check = replay_check(deltas, seq, 32)
    assert list(zip(check["destination"], check["capture_drops"], check["agrees"])) == [("192.0.2.1", delta, True)]


def test_a_larger_window_than_the_devices_disagrees():
    deltas = counter_deltas(*snapshots("replay-reorder"))
    seq = sequence_table(read_capture(LAB / "replay-reorder.pcap").packets, 64)
    check = replay_check(deltas, seq, 64)
    assert (check["capture_drops"].iloc[0], bool(check["agrees"].iloc[0])) == (0, False)


def test_invalid_spi_counter_of_the_spi_mismatch_lab():
    deltas = counter_deltas(*snapshots("spi-mismatch"))
    changed = deltas[deltas["delta"] != 0]
    assert list(zip(changed["name"], changed["kind"])) == [("XfrmInNoStates", "invalid-spi")]


def test_kinds_of_real_junos_and_screenos_counters():
    junos = with_kinds(parse_sas([REF / "junos-ipsec-statistics.txt"]).counters)
    kinds = dict(zip(junos["name"], junos["kind"]))
    assert (kinds["Replay errors"], kinds["Invalid SPI"], kinds["TS check fail"]) == ("replay", "invalid-spi", "other")
    screenos = with_kinds(parse_sas([REF / "screenos-get-sa.txt"]).counters)
    assert len(screenos) and set(screenos["kind"]) == {"other"}     # get sa stat has no replay column
    assert counter_kind("pkts replay failed (rcv)") == "replay"
    assert counter_kind("pkts invalid sa (rcv)") == "invalid-spi"


def test_a_reset_counter_has_no_delta(tmp_path):
    before, after = snapshots("replay-duplicate")
    deltas = counter_deltas(after, before)            # "after" read first: the counter went down
    row = deltas[deltas["name"] == "XfrmInStateSeqError"].iloc[0]
    assert pd.isna(row["delta"]) and (row["before"], row["after"]) == (65, 0)


def test_snapshots_of_different_outputs_are_an_error():
    junos = parse_sas([REF / "junos-ipsec-statistics.txt"]).counters
    with pytest.raises(UsageError, match="no counter in common"):
        counter_deltas(snapshots("replay-reorder")[0], junos)


def test_cli_counters():
    args = ["counters", LAB / "replay-reorder.xfrm_stat.before.txt", LAB / "replay-reorder.xfrm_stat.after.txt",
            "-c", LAB / "replay-reorder.pcap"]
    result = CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "28 counters in both snapshots, 1 changed:"
    assert lines[3].split() == ["linux", "-", "-", "-", "XfrmInStateSeqError", "replay", "0", "7", "7"]
    assert lines[-1] == ("XfrmInStateSeqError (+7) vs the capture: 7 packets to 192.0.2.1 fail a 32-packet "
                         "window: they agree.")
    code = main(["counters", str(LAB / "replay-reorder.xfrm_stat.before.txt"), str(REF / "junos-ipsec-statistics.txt")])
    assert code == 1


def test_real_ios_flow_counters_are_replay_and_invalid_spi_per_peer():
    """`show crypto ipsec sa detail` (IOS, a real output kept in fixtures/real/sa): the
    flow's `#pkts replay failed (rcv)` is a replay counter of its peer."""
    c = with_kinds(parse_sas([FIXTURES / "real" / "sa" / "ios-ntc-show-crypto-ipsec-sa-detail.txt"]).counters)
    kinds = c[c["kind"] != "other"]
    assert sorted(zip(kinds["gateway"], kinds["name"], kinds["kind"], kinds["value"])) == [
        ("2.2.2.2", "pkts invalid sa (rcv)", "invalid-spi", 0), ("2.2.2.2", "pkts replay failed (rcv)", "replay", 0),
        ("3.3.3.3", "pkts invalid sa (rcv)", "invalid-spi", 0), ("3.3.3.3", "pkts replay failed (rcv)", "replay", 1)]


def test_a_per_peer_counter_is_compared_with_that_peers_drops_only():
    seq = sequence_table(read_capture(LAB / "replay-duplicate.pcap").packets, 32)
    deltas = pd.DataFrame({"vendor": ["ios", "ios"], "device": [None, None], "gateway": ["198.51.100.1", "203.0.113.9"],
                           "spi": [pd.NA, pd.NA], "name": ["pkts replay failed (rcv)"] * 2,
                           "kind": ["replay", "replay"], "delta": [65, 0]})
    check = replay_check(deltas, seq, 32)
    assert list(zip(check["capture_drops"], check["agrees"])) == [(65, True), (0, True)]


def test_cli_counters_json_and_table(tmp_path):
    import json
    args = ["counters", LAB / "replay-duplicate.xfrm_stat.before.txt", LAB / "replay-duplicate.xfrm_stat.after.txt",
            "-c", LAB / "replay-duplicate.pcap", "--format", "json"]
    report = json.loads(CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False).output)
    assert [(c["name"], c["delta"]) for c in report["changed"]] == [("XfrmInStateSeqError", 65)]
    assert [(c["capture_drops"], c["agrees"]) for c in report["replay_check"]] == [(65, True)]
    out = tmp_path / "deltas.parquet"
    result = CliRunner().invoke(cli, list(map(str, args[:3] + ["-o", out])), catch_exceptions=False)
    assert result.exit_code == 0
    table = pd.read_parquet(out)
    assert len(table) == 28 and table.set_index("name").loc["XfrmInStateSeqError", "delta"] == 65


def test_cli_counters_never_writes_over_a_snapshot(tmp_path, capsys):
    before, after = tmp_path / "before.txt", tmp_path / "after.txt"
    before.write_bytes((LAB / "replay-reorder.xfrm_stat.before.txt").read_bytes())
    after.write_bytes((LAB / "replay-reorder.xfrm_stat.after.txt").read_bytes())
    kept = after.read_bytes()
    assert main(["counters", str(before), str(after), "-o", str(after)]) == 1
    assert "would overwrite an input" in capsys.readouterr().err
    assert after.read_bytes() == kept
