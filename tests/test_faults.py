"""Faults from outside the process (issue 17): kill -9 and SIGTERM to `badspi batch`'s main
process alone, pipes as captures, a kill at every write step of a re-check.

Each test starts the real command in a new session and looks at the processes of that
session and at the dataset's files, as a supervisor or an operator would."""
from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import PCAPS

LAB = PCAPS / "lab"
REPO = Path(__file__).resolve().parent.parent
SOURCE = LAB / "ikev2-rekey.pcap"    # classic little-endian pcap


def make_captures(folder: Path, n: int) -> Path:
    """``n`` captures with distinct content (the first record's seconds moved by i)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = bytearray(SOURCE.read_bytes())
    first = struct.unpack_from("<I", data, 24)[0]
    for i in range(n):
        struct.pack_into("<I", data, 24, first - i)
        (folder / f"c{i:03d}.pcap").write_bytes(bytes(data))
    return folder


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}


STARTED: list[int] = []


@pytest.fixture(autouse=True)
def no_leftovers():
    """Whatever a failing test leaves running in the sessions it started is killed."""
    yield
    for sid in STARTED:
        for pid in session_members(sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    STARTED.clear()


def start_batch(*args, **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "badspi_pcap.cli", "batch", *map(str, args)], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kwargs)
    STARTED.append(proc.pid)
    return proc


def session_members(sid: int) -> list[int]:
    """Live processes (zombies left out) of session ``sid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(entry))
    return out


def wait_for(predicate, timeout: float, step: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def manifests(dataset: Path) -> list[Path]:
    folder = dataset / "_manifest"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def dataset_files(dataset: Path) -> dict[str, int]:
    return {str(p.relative_to(dataset)): p.stat().st_mtime_ns for p in dataset.rglob("*") if p.is_file()}


def started_working(proc, dataset: Path) -> None:
    """Wait until the workers have written a first capture (work is then in flight)."""
    got = wait_for(lambda: manifests(dataset) or proc.poll() is not None, 120)
    assert proc.poll() is None and got, proc.communicate()
    assert len(session_members(proc.pid)) >= 3   # main, forkserver, workers (and the resource tracker)


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    return make_captures(tmp_path_factory.mktemp("faults") / "caps", 60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_main_process_leaves_no_worker_and_no_later_write(captures, tmp_path):
    dataset = tmp_path / "ds"
    proc = start_batch(captures, "-o", dataset, "-j", "2")
    started_working(proc, dataset)
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.time_ns()
    proc.wait()
    survivors = wait_for(lambda: not session_members(proc.pid), 10)
    assert survivors, f"still running after the main process was killed: {session_members(proc.pid)}"
    # The caller's pipes are closed: nothing holds them open any more.
    out, err = proc.communicate(timeout=5)
    before = dataset_files(dataset)
    late = {name: t for name, t in before.items() if t > killed + 300_000_000 and name != "_lock"}
    assert not late, late
    time.sleep(1.0)
    assert dataset_files(dataset) == before
    # The next run takes the dataset over and finishes it: every capture ok, no lock left.
    done = start_batch(captures, "-o", dataset, "-j", "2")
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err.decode()
    summary = pd.read_parquet(dataset / "summary")
    assert len(summary) == 60 and set(summary["status"]) == {"ok"}
    assert len(manifests(dataset)) == 60 and not (dataset / "_lock").exists()
    assert not list(dataset.rglob("*.part"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_like_ctrl_c(captures, tmp_path):
    dataset = tmp_path / "ds"
    proc = start_batch(captures, "-o", dataset, "-j", "2")
    started_working(proc, dataset)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 143, text
    assert text.strip().splitlines()[-1] == "Terminated." and "Traceback" not in text, text
    assert "leaked" not in text, text
    assert wait_for(lambda: not session_members(proc.pid), 10), session_members(proc.pid)
    assert not (dataset / "_lock").exists()
