"""Worker paths change no process-global state, and the CPU count works where the system
has no CPU affinity (macOS, Windows)."""
import os

import pytest

import badspi_pcap.batch as batch
from badspi_pcap import output
from badspi_pcap.capture.read import _jobs
from badspi_pcap.capture.parallel import available_cpus


def test_umask_is_read_once_not_set_around_each_write(tmp_path, monkeypatch):
    actual = os.umask(0o022)
    os.umask(actual)
    assert output.UMASK == actual

    def no_umask(mask):
        raise AssertionError("os.umask called on the write path")

    monkeypatch.setattr(os, "umask", no_umask)
    path = tmp_path / "t.txt"
    with output.atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write("x")
    assert path.read_text() == "x"
    assert path.stat().st_mode & 0o777 == 0o666 & ~actual


def test_cpu_count_without_sched_getaffinity(monkeypatch):
    if hasattr(os, "sched_getaffinity"):
        assert available_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    cpus = os.cpu_count() or 1
    assert available_cpus() == cpus
    assert _jobs(0) == cpus
    runner = batch.make_runner(None, None)   # badspi batch's default: every CPU
    assert isinstance(runner, batch.InlineRunner) if cpus == 1 else runner.jobs == cpus


def test_jobs_below_one_is_a_usage_error():
    with pytest.raises(batch.UsageError):
        batch.make_runner(0, None)


def test_scapy_messages_are_collected_per_read_in_several_threads(tmp_path):
    """Each read gets its own Scapy warnings, with reads running in several threads (as
    in a Dask worker); outside a read Scapy's logger works as Scapy set it up."""
    import logging
    from concurrent.futures import ThreadPoolExecutor

    from badspi_pcap.capture import read_capture
    from capture_builders import pcapng_bytes, real_frames
    from conftest import PCAPS

    frames = real_frames(PCAPS / "lab" / "icmp-net-unreach.pcap")[:5]
    damaged = pcapng_bytes([(1, 6, frames)]) + b"\x06\0\0\0\x08\0\0\0"
    good = PCAPS / "lab" / "icmp-net-unreach.pcapng"
    paths = []
    for k in range(8):
        paths.append(tmp_path / f"bad{k}.pcapng")
        paths[-1].write_bytes(damaged)
        paths.append(good)
    with ThreadPoolExecutor(max_workers=4) as pool:
        reads = list(pool.map(lambda p: read_capture(p, engine="scapy"), paths))
    for path, got in zip(paths, reads):
        want = ["Scapy: PcapNg: Invalid block length !"] if path != good else []
        assert [s.reason for s in got.skipped] == want, path
        assert all(s.source == got.capture for s in got.skipped)   # its own file named, not another thread's

    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger = logging.getLogger("scapy.runtime")
    handler = Keep()
    logger.addHandler(handler)
    try:
        logger.warning("outside a read")
    finally:
        logger.removeHandler(handler)
    assert seen == ["outside a read"]
