"""The dataset lock where there is no ``fcntl`` (Windows): the lock file is created
exclusively and names its process; two runs still exclude each other, a worker of a
dead run writes nothing, and a lock left by a dead process is taken over once."""
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import badspi_pcap.batch as batch
from badspi_pcap.batch import lock
from badspi_pcap.errors import UsageError
from batch_inputs import LAB

REPO = Path(__file__).resolve().parent.parent
HOLD = """
import sys
sys.modules["fcntl"] = None                  # as on Windows
from pathlib import Path
from badspi_pcap.batch.lock import dataset_lock
with dataset_lock(Path(sys.argv[1])) as token:
    print(token, flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def no_fcntl(monkeypatch):
    monkeypatch.setitem(sys.modules, "fcntl", None)     # `import fcntl` raises ImportError, as on Windows
    with pytest.raises(ImportError):
        import fcntl  # noqa: F401


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_without_fcntl_two_runs_exclude_each_other_and_a_dead_runs_lock_is_taken_over(no_fcntl, tmp_path):
    ds = tmp_path / "ds"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(ds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, text=True)
    try:
        token = holder.stdout.readline().strip()
        assert (ds / "_lock").read_text() == f"{token} pid={holder.pid}@{socket.gethostname()}"
        with pytest.raises(UsageError, match=f"another badspi batch is writing this dataset .process {holder.pid}"):
            batch.run_batch([str(LAB / "natt.pcap")], ds, jobs=1)
        lock.check_lock(ds, token)                           # the other run's workers may write
        with pytest.raises(batch.RunLost, match="another run"):
            lock.check_lock(ds, "0123456789abcdef")
    finally:
        holder.send_signal(signal.SIGKILL)                   # killed: its lock file stays behind
        holder.wait()
    assert (ds / "_lock").exists()
    with pytest.raises(batch.RunLost, match="is gone"):     # its workers stop writing
        lock.check_lock(ds, token)
    result = batch.run_batch([str(LAB / "natt.pcap")], ds, jobs=1)
    assert list(result.summary["status"]) == ["ok"]
    assert not (ds / "_lock").exists() and sorted(p.name for p in ds.iterdir()) == \
        ["_manifest", "findings", "packets", "summary"]      # no claim file left behind


def test_without_fcntl_a_run_in_this_process_excludes_a_second(no_fcntl, tmp_path):
    with lock.dataset_lock(tmp_path) as token:
        lock.check_lock(tmp_path, token)
        with pytest.raises(UsageError, match="another badspi batch"):
            with lock.dataset_lock(tmp_path):
                pass
        assert (tmp_path / "_lock").read_text().startswith(token)
    assert not (tmp_path / "_lock").exists()
    with lock.dataset_lock(tmp_path):                        # released: free again
        pass


def test_a_lock_of_another_host_or_without_a_pid_is_never_taken_over(no_fcntl, tmp_path):
    for held in (f"feedfacefeedface pid={dead_pid()}@another-host", "feedfacefeedface", ""):
        (tmp_path / "_lock").write_text(held)
        with pytest.raises(UsageError, match="another badspi batch"):
            with lock.dataset_lock(tmp_path):
                pass
        assert (tmp_path / "_lock").read_text() == held


def test_one_stale_lock_is_taken_over_by_one_run_only(no_fcntl, tmp_path, monkeypatch):
    stale = f"feedfacefeedface pid={dead_pid()}@{socket.gethostname()}"
    path = tmp_path / "_lock"
    # A run that read the stale lock long ago must not remove its successor's lock.
    path.write_text(stale)
    assert lock._create_or_take_over(path, "aaaa pid=1@x")
    assert lock._take_over(path, stale, "bbbb pid=2@y")
    assert path.read_text() == "aaaa pid=1@x"
    # Run B reads the stale lock and acts just as run A, taking it over, checks it once more.
    path.write_text(stale)
    real_read, reads, won = lock._read, [], {}

    def read_and_let_b_run(where):
        text = real_read(where)
        if where == path and text == stale and "b" not in won:
            reads.append(where)
            if len(reads) == 2:                              # A's second look, just before it removes it
                won["b"] = None
                won["b"] = lock._create_or_take_over(path, "bbbb pid=%d@%s" % (os.getpid(), socket.gethostname()))
        return text

    monkeypatch.setattr(lock, "_read", read_and_let_b_run)
    won["a"] = lock._create_or_take_over(path, "aaaa pid=%d@%s" % (os.getpid(), socket.gethostname()))
    monkeypatch.setattr(lock, "_read", real_read)
    assert (won["a"], won["b"]) == (True, False) and path.read_text().startswith("aaaa ")
    # Many runs taking over at once: exactly one wins each time.
    for _ in range(20):
        path.write_text(stale)
        start, won = threading.Barrier(4), []

        def take(n):
            start.wait()
            if lock._create_or_take_over(path, f"{n:016x} pid={os.getpid()}@{socket.gethostname()}"):
                won.append(n)

        threads = [threading.Thread(target=take, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and path.read_text().startswith(f"{won[0]:016x} ")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["_lock"]
        path.unlink()
