"""Every lab capture (real Linux kernels, see fixtures/README.md) read against the
truth file the lab wrote for it: ESP counts per SPI and direction, sequence ranges,
every ICMP error with its quoted SPI/sequence, IKE exchanges."""
import ipaddress
import json
from pathlib import Path

import pytest

from badspi_pcap.capture import read_capture
from conftest import PCAPS

TRUTHS = sorted(PCAPS.glob("lab*/*.truth.json"))
IKEV1_NAMES = {"Main Mode (Identity Protection)": "MAIN_MODE", "Quick Mode": "QUICK_MODE",
               "Informational (IKEv1)": "INFORMATIONAL", "Aggressive Mode": "AGGRESSIVE"}


def _load(truth_path: Path):
    truth = json.loads(truth_path.read_text())
    packets = read_capture(truth_path.parent / truth["pcap"]).packets
    return truth, packets


def _gateway_addresses(truth):
    fam = "outside_v6" if truth["family"] == 6 else "outside_v4"
    return {name: str(ipaddress.ip_interface(truth["topology"][name][fam]).ip) for name in ("gwA", "gwB")}


def test_lab_truth_files_found():
    assert len(TRUTHS) >= 7


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_esp_per_spi_and_direction(truth_path):
    truth, packets = _load(truth_path)
    gw = _gateway_addresses(truth)
    esp = packets[packets["kind"].isin(["esp", "esp-in-udp"])]
    for seen in truth["esp_spis_seen"]:
        src_name, dst_name = seen["direction"].split("->")
        rows = esp[(esp["spi"] == int(seen["spi"], 16)) & (esp["src"] == gw[src_name]) & (esp["dst"] == gw[dst_name])]
        assert len(rows) == seen["packets"], seen
        assert int(rows["seq"].min()) == seen["seq_min"]
        assert int(rows["seq"].max()) == seen["seq_max"]
        assert int(rows["frame"].min()) == seen["first_frame"]
        assert int(rows["frame"].max()) == seen["last_frame"]
    assert len(esp) == sum(truth["counts"]["esp"].values())


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_icmp_error_and_its_quote(truth_path):
    truth, packets = _load(truth_path)
    errors = packets[packets["kind"] == "icmp-error"].set_index("frame")
    assert len(errors) == len(truth.get("icmp_errors", []))
    for e in truth.get("icmp_errors", []):
        row = errors.loc[e["frame"]]
        q = e["quoted"]
        assert (row["src"], row["dst"]) == (e["src"], e["dst"])
        assert (int(row["icmp_type"]), int(row["icmp_code"])) == (e["type"], e["code"])
        mtu = None if row["icmp_mtu"] is None or str(row["icmp_mtu"]) == "<NA>" else int(row["icmp_mtu"])
        assert mtu == e.get("mtu")
        assert (row["inner_src"], row["inner_dst"], int(row["inner_proto"])) == (q["src"], q["dst"], q["proto"])
        assert int(row["inner_spi"]) == int(q["esp_spi"], 16)
        assert int(row["inner_seq"]) == q["esp_seq"]
        if "udp_sport" in q:
            assert (int(row["inner_sport"]), int(row["inner_dport"])) == (q["udp_sport"], q["udp_dport"])


@pytest.mark.parametrize("truth_path", [t for t in TRUTHS if "ike" in json.loads(t.read_text())["counts"]],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ike_exchanges(truth_path):
    truth, packets = _load(truth_path)
    ike = packets[packets["kind"] == "ike"]
    for label, count in truth["counts"]["ike"].items():
        name, _, role = label.rpartition(" ")
        name = IKEV1_NAMES.get(name, name)
        rows = ike[ike["ike_exchange"] == name]
        if truth.get("ike_version") == 2 or name.startswith(("IKE_", "CREATE_")) or rows["ike_version"].eq(2).all():
            rows = rows[rows["ike_response"] == (role == "response")]
        assert len(rows) == count, label
