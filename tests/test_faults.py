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
    return make_captures(tmp_path_factory.mktemp("faults") / "caps", 30)


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
    assert len(summary) == 30 and set(summary["status"]) == {"ok"}
    assert len(manifests(dataset)) == 30 and not (dataset / "_lock").exists()
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


# ---------------------------------------------------------------- outputs never over inputs (2)

from badspi_pcap.cli import main  # noqa: E402
from conftest import FIXTURES  # noqa: E402

CAPTURE = LAB / "icmp-net-unreach.pcap"
LOG = FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log"


def one_error_line(capsys, *words) -> str:
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, err
    return err


@pytest.fixture
def case(tmp_path):
    (tmp_path / "same.pcap").write_bytes(CAPTURE.read_bytes())
    (tmp_path / "same.log").write_bytes(LOG.read_bytes())
    return tmp_path


@pytest.fixture
def no_work(monkeypatch):
    """Fails the test if any capture is read or analysed."""
    import importlib

    def boom(*a, **k):
        raise AssertionError("work started before the outputs were checked")

    monkeypatch.setattr(importlib.import_module("badspi_pcap.analysis"), "analyze", boom)
    monkeypatch.setattr(importlib.import_module("badspi_pcap.capture"), "read_capture", boom)


@pytest.mark.parametrize("option, target", [("--evidence", "same.pcap"), ("-o", "same.pcap"), ("--report", "same.log"),
                                            ("-o", "same.log"), ("--evidence", "link.pcap"), ("--report", "hard.html")])
def test_an_output_never_overwrites_an_input(case, option, target, capsys, no_work):
    os.symlink(case / "same.pcap", case / "link.pcap")
    os.link(case / "same.log", case / "hard.html")
    before = {p.name: p.read_bytes() for p in case.iterdir()}
    code = main(["analyze", str(case / "same.pcap"), "-e", str(case / "same.log"), option, str(case / target)])
    assert code == 1
    one_error_line(capsys, str(case / target), option, "would overwrite an input")
    assert {p.name: p.read_bytes() for p in case.iterdir()} == before


def test_two_outputs_never_share_a_file(case, capsys, no_work):
    out = str(case / "r.html")
    assert main(["analyze", str(case / "same.pcap"), "-o", out, "--report", out]) == 1
    one_error_line(capsys, out, "--report would overwrite the -o output")
    assert not Path(out).exists()


@pytest.mark.parametrize("command", ["packets", "events", "sas"])
def test_table_commands_check_their_output_first(case, command, capsys, monkeypatch):
    src = {"packets": "same.pcap", "events": "same.log", "sas": "same.log"}[command]
    import badspi_pcap.logs
    import badspi_pcap.sas
    for module, name in ((badspi_pcap.logs, "parse_logs"), (badspi_pcap.sas, "parse_sas")):
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("read before the output was checked"))
    monkeypatch.setattr("badspi_pcap.cli.read_captures_with_progress",
                        lambda *a, **k: pytest.fail("read before the output was checked"))
    assert main([command, str(case / src), "-o", str(case / src)]) == 1
    one_error_line(capsys, "would overwrite an input")
    assert main([command, str(case / src), "-o", str(case / "t.xlsx")]) == 1
    one_error_line(capsys, "cannot tell the output format", "t.xlsx")
    assert main([command, str(case / src), "-o", "/sys/t.csv"]) == 1     # EACCES even for root
    one_error_line(capsys, "/sys/t.csv", "cannot write here")
    assert main([command, str(case / src), "-o", str(case)]) == 1
    one_error_line(capsys, str(case), "names a folder")


def test_analyze_outputs_are_checked_before_the_analysis(case, capsys, no_work):
    for option, target, words in (("--report", "/sys/r.html", "cannot write here"),
                                  ("--evidence", str(case / "e.txt"), "cannot tell the output format"),
                                  ("-o", str(case / "missing-folder-is-made" / ".." / "same.pcap"),
                                   "overwrite an input"),
                                  ("--report", str(case / "same.pcap" / "r.html"), "not a folder")):
        assert main(["analyze", str(case / "same.pcap"), option, target]) == 1
        one_error_line(capsys, target, *words.split(" | "))


# ---------------------------------------------------------------- honest exit codes (3)

@pytest.mark.parametrize("args", [["packets", "{d}"], ["analyze", "{d}"], ["analyze", "{c}", "-e", "{d}"],
                                  ["events", "{d}"], ["sas", "{d}"]])
def test_a_folder_given_as_a_file_is_bad_input_not_a_usage_banner(case, args, capsys):
    argv = [a.format(d=case, c=case / "same.pcap") for a in args]
    assert main(argv) == 1
    one_error_line(capsys, str(case), "directory")


@pytest.mark.skipif(not os.path.exists("/proc/1/mem"), reason="Linux /proc")
@pytest.mark.parametrize("command", ["packets", "analyze", "events", "sas"])
def test_an_unreadable_file_is_bad_input_not_a_usage_banner(command, capsys):
    # /proc/1/mem cannot be read here, not even by root (ptrace rules): a file the
    # permissions shut, on any machine
    assert main([command, "/proc/1/mem"]) == 1
    one_error_line(capsys, "/proc/1/mem: cannot ")


def test_an_unwritable_dataset_is_one_error_line(case, capsys):
    assert main(["batch", str(case / "same.pcap"), "-o", "/sys/ds"]) == 1
    one_error_line(capsys, "/sys/ds", "cannot write")
    assert main(["batch", str(case / "same.pcap"), "-o", str(case / "same.pcap")]) == 1
    one_error_line(capsys, "would overwrite an input")


def test_a_full_disk_stops_the_batch_with_one_error_line(case, capsys, monkeypatch):
    import errno

    import badspi_pcap.batch as batch
    real = batch._write_parquet
    calls = []

    def full(table, path, *a, **k):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(table, path, *a, **k)

    monkeypatch.setattr(batch, "_write_parquet", full)
    (case / "two.pcap").write_bytes((LAB / "natt.pcap").read_bytes())
    assert main(["batch", str(case / "same.pcap"), str(case / "two.pcap"), "-o", str(case / "ds"), "-j", "1"]) == 1
    err = one_error_line(capsys, "no space left on device", str(case / "ds"))
    assert "worker lost" not in err and "internal" not in err.lower()
    assert not list((case / "ds").rglob("*.part")) and not (case / "ds" / "_lock").exists()


def run_cli(*args, stdin=None, pass_fds=()):
    return subprocess.run([sys.executable, "-m", "badspi_pcap.cli", *map(str, args)], env=env(), input=stdin,
                          capture_output=True, pass_fds=pass_fds, timeout=300)


def test_pipes_and_stdin_are_read_as_captures(tmp_path):
    import gzip
    import threading

    plain = run_cli("packets", CAPTURE, "-o", tmp_path / "file.parquet")
    assert plain.returncode == 0, plain.stderr
    piped = run_cli("packets", "/dev/stdin", "-o", tmp_path / "stdin.parquet",
                    stdin=gzip.compress(CAPTURE.read_bytes()))
    assert piped.returncode == 0, piped.stderr.decode()
    read, write = os.pipe()   # what bash's <(gzip -dc x.pcap.gz) hands over: /dev/fd/N, a pipe
    feeder = threading.Thread(target=lambda: (os.write(write, CAPTURE.read_bytes()), os.close(write)))
    feeder.start()
    try:
        fd = run_cli("packets", f"/dev/fd/{read}", "-o", tmp_path / "fd.parquet", pass_fds=(read,))
    finally:
        feeder.join()
        os.close(read)
    assert fd.returncode == 0, fd.stderr.decode()
    want = pd.read_parquet(tmp_path / "file.parquet").drop(columns="capture")
    for name in ("stdin", "fd"):
        got = pd.read_parquet(tmp_path / f"{name}.parquet").drop(columns="capture")
        pd.testing.assert_frame_equal(got, want)
    text = run_cli("analyze", "/dev/stdin", "-e", LOG, stdin=CAPTURE.read_bytes())
    assert text.returncode == 0 and b"embedded-icmp" in text.stdout, text.stderr.decode()
    log = run_cli("analyze", CAPTURE, "-e", "/dev/stdin", stdin=gzip.compress(LOG.read_bytes()))   # a log too
    verdicts = [[line for line in out.splitlines() if b"embedded-icmp" in line] for out in (text.stdout, log.stdout)]
    assert log.returncode == 0 and verdicts[0] and verdicts[0] == verdicts[1], log.stderr.decode()
    twice = run_cli("analyze", "/dev/stdin", "--evidence", tmp_path / "e.pcap", stdin=CAPTURE.read_bytes())
    assert twice.returncode == 1 and twice.stderr.decode().startswith("Error: /dev/stdin: --evidence reads the "
                                                                      "captures twice"), twice.stderr.decode()


# ---------------------------------------------------------------- a re-check replaces rows as a set (4)

KILL_AT_STEP = r"""
import atexit, os, signal, sys
step, dataset = int(sys.argv[1]), os.path.realpath(sys.argv[2])
count = [0]

def writes(path):
    path = os.path.realpath(path)
    if path.startswith(dataset + os.sep) and not path.endswith(".part") and ".badspi-probe." not in path:
        count[0] += 1
        if count[0] == step:
            os.kill(os.getpid(), signal.SIGKILL)

real_replace, real_unlink = os.replace, os.unlink
os.replace = lambda src, dst, **k: (writes(dst), real_replace(src, dst, **k))[1]
os.unlink = lambda path, **k: (writes(path), real_unlink(path, **k))[1]
atexit.register(lambda: print("steps", count[0], file=sys.stderr))
from badspi_pcap.cli import main
sys.exit(main(sys.argv[3:]))
"""


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """Rows written by another process: the findings' ``peer`` left out, as diagnose breaks a
    tie between two equally frequent peers by set order, which differs between processes
    (string hashing) -- a determinism bug of its own, not what this test is about."""
    return table.drop(columns=["peer"], errors="ignore")


def test_a_kill_at_every_write_step_of_a_recheck_leaves_old_or_new_never_a_mix(tmp_path):
    import shutil

    import badspi_pcap.batch as batch

    capture = tmp_path / "c.pcap"
    capture.write_bytes(CAPTURE.read_bytes())
    first = tmp_path / "first"
    batch.run_batch([str(capture)], first, jobs=1)                 # no log: capture-only findings
    final = tmp_path / "final"
    shutil.copytree(first, final)
    batch.run_batch([str(capture)], final, jobs=1, force=True,
                    options=batch.CheckOptions(events=(str(LOG),)))    # the re-check, uninterrupted
    old, new = batch.read_dataset(first, "summary"), batch.read_dataset(final, "summary")
    assert old["logs"].isna().all() and new["logs"].notna().all()      # the two differ
    tables = {name: batch.read_dataset(final, name) for name in batch.TABLES}

    def kill_at(step: int, where: Path):
        return subprocess.run([sys.executable, "-c", KILL_AT_STEP, str(step), str(where), "batch", str(capture),
                               "-o", str(where), "-j", "1", "--force", "-e", str(LOG)],
                              env=env(), capture_output=True, timeout=300)

    probe = tmp_path / "probe"
    shutil.copytree(first, probe)
    done = kill_at(0, probe)
    assert done.returncode == 0, done.stderr.decode()
    steps = int(done.stderr.decode().split("steps ")[-1])
    assert steps >= 5   # the old manifest, three tables, the new manifest (and the lock file)
    for step in range(1, steps + 1):
        where = tmp_path / f"killed{step}"
        shutil.copytree(first, where)
        killed = kill_at(step, where)
        assert killed.returncode == -signal.SIGKILL, (step, killed.stderr.decode())
        summary = batch.read_dataset(where, "summary")
        # What a reader trusts is the old set or the new set, never a mix.
        if len(summary) == 0:
            assert step <= steps
        else:
            got = {name: batch.read_dataset(where, name) for name in batch.TABLES}
            same_as_old = got["summary"]["logs"].isna().all()
            reference = {name: batch.read_dataset(first if same_as_old else final, name) for name in batch.TABLES}
            for name in batch.TABLES:
                pd.testing.assert_frame_equal(comparable(got[name]), comparable(reference[name]),
                                              obj=f"step {step}: {name}")
            assert not same_as_old or step == 1, f"step {step}: the old manifest is not the first thing removed"
        # And the next run finishes it to exactly the uninterrupted result.
        batch.run_batch([str(capture)], where, jobs=1, options=batch.CheckOptions(events=(str(LOG),)))
        for name in batch.TABLES:
            got = batch.read_dataset(where, name)
            pd.testing.assert_frame_equal(comparable(got), comparable(tables[name]), obj=f"after step {step}: {name}")
        assert not list(where.rglob("*.part")) and not (where / "_lock").exists()


# ---------------------------------------------------------------- skipped entries keyed by content or real place (5)

def test_reruns_from_another_path_add_no_rows(tmp_path, monkeypatch):
    import badspi_pcap.batch as batch

    case = tmp_path / "case"
    (case / "sub").mkdir(parents=True)
    (case / "a.pcap").write_bytes(CAPTURE.read_bytes())
    (case / "README.txt").write_text("notes\n")
    (case / "sub" / "corrupt.pcap").write_bytes(b"not a capture\n" * 4)
    os.mkfifo(case / "fifo.pcap")
    os.symlink(tmp_path, case / "loop")                # a link to a folder
    (tmp_path / "elsewhere").symlink_to(tmp_path)      # the same folder through a link
    ds = tmp_path / "ds"

    def rows():
        return batch.read_dataset(ds, "summary").set_index("capture_id")["status"].sort_index()

    monkeypatch.chdir(tmp_path)
    batch.run_batch(["case"], ds, jobs=1)       # relative
    first = rows()
    assert sorted(first) == ["error", "ok", "skipped", "skipped", "skipped"]
    for how in (str(case), str(tmp_path / "elsewhere" / "case"), str(case) + "/"):
        again = batch.run_batch([how], ds, jobs=1)
        assert (again.summary["run"] == "earlier").all(), (how, again.summary[["capture", "run"]])
        pd.testing.assert_series_equal(rows(), first)
    # Renamed: what has content is found by it; only the content-less entries are new.
    case.rename(tmp_path / "renamed")
    renamed = batch.run_batch([str(tmp_path / "renamed")], ds, jobs=1)
    new = renamed.summary[renamed.summary["run"] == "new"]
    assert sorted(new["capture"].map(lambda a: a.rsplit("/", 1)[-1])) == ["fifo.pcap", "loop"]
    assert len(rows()) == len(first) + 2


# ---------------------------------------------------------------- links, leftovers, fsync (8)

def test_links_out_of_the_folder_are_not_followed_and_content_is_never_quoted(tmp_path):
    import badspi_pcap.batch as batch

    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret-hash:19000:0:99999:7:::\n")
    case = tmp_path / "case"
    case.mkdir()
    (case / "a.pcap").write_bytes(CAPTURE.read_bytes())
    (case / "evil.pcap").symlink_to(secret)
    (case / "inside.pcap").symlink_to(case / "a.pcap")  # inside the folder: the same capture
    (case / "notes.pcap").write_text("root:$6$other\n")
    result = batch.run_batch([str(case)], tmp_path / "ds", jobs=1)
    s = result.summary.set_index(result.summary["capture"].map(lambda a: a.rsplit("/", 1)[-1]))
    assert s.loc["evil.pcap", "status"] == "skipped"
    assert s.loc["evil.pcap", "error"] == "link to a file outside the folder: not followed"
    assert s.loc["notes.pcap", "status"] == "error" and "starts with" not in s.loc["notes.pcap", "error"]
    assert "inside.pcap" not in s.index or s.loc["inside.pcap", "status"] == "duplicate"
    dumped = "".join(p.read_bytes().hex() + p.read_bytes().decode("latin-1")
                     for p in (tmp_path / "ds").rglob("*") if p.is_file())
    for leak in ("root:$", "secret-hash", "$6$other", b"root:".hex(), "72 6f 6f 74 3a"):
        assert leak not in dumped, leak


def test_stale_part_files_of_a_killed_command_are_removed_by_the_next_run(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".report.txt.{dead.pid}.k2j3.part"
    live = tmp_path / f".report.txt.{os.getpid()}.x9z8.part"      # a run still writing it
    other = tmp_path / f".other.txt.{dead.pid}.q1w2.part"          # another output's: its own next run
    for p in (stale, live, other):
        p.write_text("half")
    done = run_cli("analyze", CAPTURE, "-o", tmp_path / "report.txt")
    assert done.returncode == 0, done.stderr.decode()
    assert not stale.exists() and live.exists() and other.exists()
    assert (tmp_path / "report.txt").read_text().strip()


def test_dataset_files_are_fsynced_before_their_rename(tmp_path, monkeypatch):
    import badspi_pcap.batch as batch

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(a), str(b))), real_replace(a, b))[1])
    batch.run_batch([str(CAPTURE)], tmp_path / "ds", jobs=1)
    renames = [e for e in events if e[0] == "replace"]
    assert {Path(e[2]).parent.name for e in renames} == {"packets", "findings", "summary", "_manifest"}
    for e in renames:
        at = events.index(e)
        assert ("fsync", e[1]) in events[:at], f"{e[2]} renamed before its data was on disk"
    manifest = next(e for e in renames if Path(e[2]).parent.name == "_manifest")
    assert ("fsync", str(Path(manifest[2]).parent)) in events[events.index(manifest):], "manifest folder not synced"
    assert renames[-1] == manifest     # the manifest entry comes last


# ---------------------------------------------------------------- outside text is plain text on a terminal (6)

def run_on_a_terminal(*args, cwd) -> bytes:
    """Run the CLI with stderr on a pseudo-terminal (so the progress bar shows); what the
    terminal received."""
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "badspi_pcap.cli", *map(str, args)],
                            env={**env(), "TERM": "xterm", "COLUMNS": "200"},
                            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    received = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:   # the other side closed
            chunk = b""
        if not chunk:
            break
        received += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return received


def test_file_names_reach_the_progress_bar_as_plain_text(tmp_path):
    names = {"a[link=file:evil.example]b.pcap": b"a[link=file:evil.example]b.pcap",
             "[bold red]styled.pcap": b"[bold red]styled.pcap",
             "esc\x1b]0;owned\x07.pcap": b"esc?]0;owned?.pcap"}
    for name, shown in names.items():   # one per run: the bar always draws the last name
        (tmp_path / name).write_bytes(CAPTURE.read_bytes())
        seen = run_on_a_terminal("packets", name, cwd=tmp_path)
        assert b"reading " + shown in seen, seen
        assert b"\x1b]8;" not in seen            # no OSC 8 hyperlink
        assert b"\x1b]0;owned" not in seen       # no title change
        assert b"\x1b[1;31m" not in seen and b"\x1b[31;1m" not in seen   # no bold red from a name


# ---------------------------------------------------------------- endless and huge logs are bounded (7)

def test_endless_logs_stop_at_the_size_limit_with_one_error_line():
    for device in ("/dev/zero", "/dev/urandom"):
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "badspi_pcap.cli", "events", device], capture_output=True,
                              env={**env(), "BADSPI_MAX_LOG_SIZE": "20M"}, timeout=120)
        err = done.stderr.decode()
        assert done.returncode == 1 and err.count("\n") == 1, err
        assert err.startswith(f"Error: {device}: no lines of a known log format; stopped reading after 20.0 MiB: "
                              "the log size limit (set BADSPI_MAX_LOG_SIZE"), err
        assert time.monotonic() - started < 60


def test_unparsed_lines_are_counted_but_only_a_sample_is_kept(tmp_path, monkeypatch, capsys):
    import random

    from badspi_pcap.logs import parse_logs
    from badspi_pcap.logs.parse import UNPARSED_SAMPLE

    junk = random.Random(17).randbytes(3 << 20).replace(b"\n", b"") + b"\n"
    lines = [junk[i:i + 100] + b"\n" for i in range(0, len(junk) - 100, 100)]
    log = tmp_path / "mixed.log"
    log.write_bytes(LOG.read_bytes() + b"".join(lines))
    result = parse_logs(log)
    assert len(result.events) == len(parse_logs(LOG).events)
    assert len(result.unparsed) == UNPARSED_SAMPLE < len(lines)
    assert result.unparsed_count == int(result.stats["unparsed"].sum()) > UNPARSED_SAMPLE
    assert main(["events", str(log), "--unparsed"]) == 0
    listed = capsys.readouterr().out.splitlines()
    more = result.unparsed_count - UNPARSED_SAMPLE
    assert listed[-1] == f"({more} more not listed: the first 1000 of each file are kept)"
    assert sum(line.startswith(f"{log}:") for line in listed) == UNPARSED_SAMPLE
    # Cut at the size limit: what came before is kept and the stop is a warning.
    monkeypatch.setenv("BADSPI_MAX_LOG_SIZE", str(len(LOG.read_bytes()) + 1000))
    cut = parse_logs(log)
    assert len(cut.events) == len(result.events)
    assert [s.reason for s in cut.skipped if "size limit" in s.reason]


def test_a_worker_renames_nothing_once_its_run_lost_the_lock(tmp_path):
    import badspi_pcap.batch as batch

    ds = tmp_path / "ds"
    result = batch.CaptureResult({**batch._base_row(batch.Unread("x", str(tmp_path / "x"), "skipped", "why")),
                                  "status": "skipped", "error": "why"})
    with batch._locked(ds) as token:
        batch.check_lock(ds, token)                                  # held by this run: fine
        batch.write_result(result, ds, "fp", token)
        with pytest.raises(batch.RunLost, match="another run"):
            batch.check_lock(ds, "0123456789abcdef")
    assert not (ds / "_lock").exists()
    with pytest.raises(batch.RunLost, match="has ended"):            # the run is over: no lock file
        batch.write_result(result, ds, "fp", token)
    (ds / "_lock").write_text(token)                                  # killed: its token left, nobody holds it
    with pytest.raises(batch.RunLost, match="is gone"):
        batch.write_result(result, ds, "fp", token)
    with batch._locked(ds) as new:                                    # a new run took over
        assert new != token
        with pytest.raises(batch.RunLost, match="another run"):
            batch.write_result(result, ds, "fp", token)
    assert not list(ds.rglob("*.part"))


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="Linux /sys")
def test_a_dataset_the_workers_cannot_write_stops_the_pool_with_one_error_line(captures, tmp_path):
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "summary").symlink_to("/sys/kernel")     # no file can be made there, not even by root
    proc = start_batch(captures, "-o", dataset, "-j", "2")
    out, err = proc.communicate(timeout=300)
    text = err.decode()
    assert proc.returncode == 1 and text.count("\n") == 1, text
    assert text.startswith(f"Error: {dataset}/summary/"), text
    assert text.endswith(".parquet: cannot write: permission denied\n"), text
    assert wait_for(lambda: not session_members(proc.pid), 10), session_members(proc.pid)
    assert not manifests(dataset) and not (dataset / "_lock").exists()
