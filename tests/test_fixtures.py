"""The fixture tree is what fixtures/README.md says it is, and the lab captures are the
bytes their truth files were written from."""
import hashlib
import json
import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PCAPS = FIXTURES / "pcaps"
README = (FIXTURES / "README.md").read_text()
LAB_TRUTHS = sorted(PCAPS.glob("lab*/*.truth.json"))


def mentioned(prefix):
    """Paths in backticks in the README that start with prefix."""
    return {m for m in re.findall(r"`([^`\s]+)`", README) if m.startswith(prefix)}


def test_readme_lists_every_capture_fixture_and_nothing_else():
    on_disk = {str(p.relative_to(FIXTURES)) for p in PCAPS.rglob("*") if p.is_file()}
    listed = {m for m in mentioned("pcaps/") if not m.endswith("/")}
    assert on_disk - listed == set(), "files missing from fixtures/README.md"
    assert listed - on_disk == set(), "fixtures/README.md lists files that do not exist"


def test_readme_lists_every_generated_log_scenario():
    dirs = {f"logs/{p.name}/" for p in (FIXTURES / "logs").iterdir() if p.is_dir() and p.name != "reference"}
    listed = {m for m in mentioned("logs/") if re.fullmatch(r"logs/[\w.-]+/", m)} - {"logs/reference/"}
    assert dirs == listed


def test_every_corpus_capture_has_its_ground_truth_and_back():
    corpus = {p.name for p in (PCAPS / "corpus").iterdir() if p.is_file() and p.name != "MANIFEST.md"}
    truth = {p.name[:-len(".tsv")] for p in (PCAPS / "ground-truth").glob("*.tsv")}
    assert corpus == truth


def test_lab_truth_files_found():
    assert {p.parent.name for p in LAB_TRUTHS} == {"lab", "lab2"}
    assert len(LAB_TRUTHS) == 11          # issue 12 added replay-reorder and replay-duplicate


@pytest.mark.parametrize("truth", LAB_TRUTHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lab_capture_is_the_one_its_truth_describes(truth):
    t = json.loads(truth.read_text())
    pcap = truth.with_name(t["pcap"])
    data = pcap.read_bytes()
    assert hashlib.sha256(data).hexdigest() == t["pcap_sha256"]
    assert len(data) == t["pcap_bytes"]
    # The replay scenarios need ~1800 packets (50/s for 18 s) to show reordering: up to 400 KB.
    limit = 400_000 if t["scenario"].startswith("replay-") else 100_000
    assert len(data) < limit, "keep lab fixtures small"


def test_second_lab_run_really_differs_from_the_first():
    """lab2 is the 'second tunnel' of the mixed log scenarios: other address, other SPIs."""
    for name in ("spi-mismatch", "natt"):
        a = json.loads((PCAPS / "lab" / f"{name}.truth.json").read_text())
        b = json.loads((PCAPS / "lab2" / f"{name}.truth.json").read_text())
        assert a["topology"]["gwA"]["outside_v4"] == "192.0.2.1/24"
        assert b["topology"]["gwA"]["outside_v4"] == "203.0.113.1/24"
        assert {s["spi"] for s in b["sas"]} == {"0x3000c003", "0x4000d004"}
        assert not {s["spi"] for s in a["sas"]} & {s["spi"] for s in b["sas"]}
