"""``analyze`` pauses Python's cyclic garbage collector while it runs (its full passes over
the heap cost 10-20 % of a big analysis) and leaves it as it found it."""
import gc

import pytest

from badspi_pcap import analyze
from badspi_pcap.errors import InputError
from conftest import PCAPS

CAPTURE = PCAPS / "lab" / "icmp-net-unreach.pcap"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_during_analyze_and_restored(enabled):
    seen = []
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        result = analyze(CAPTURE, progress=lambda *_: seen.append(gc.isenabled()))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert seen and not any(seen)          # paused while the capture was read
    assert len(result.packets) == 134


def test_the_collector_is_restored_when_analyze_fails(tmp_path):
    missing = tmp_path / "missing.pcap"
    assert gc.isenabled()
    with pytest.raises(InputError):
        analyze(missing)
    assert gc.isenabled()
