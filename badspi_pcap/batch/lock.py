"""The dataset's lock: one run at a time writes a dataset, and a worker writes nothing
once the run that started it no longer holds the lock (``check_lock``).

The lock file ``DATASET/_lock`` holds the run's token, and how the run holds it:

- ``TOKEN`` — an ``fcntl.flock`` on the file (POSIX).  The kernel drops it when the run
  dies, so a killed run's lock is free at once.
- ``TOKEN no-flock`` — flock taken, but it does not exclude here (some network
  filesystems): workers go by the token alone.
- ``TOKEN pid=PID@HOST`` — where there is no ``fcntl`` (Windows): the file is created
  exclusively (``O_EXCL``); a lock left by a process of this host that has ended is taken
  over.  A lock from another host, or one whose process still exists, is never taken.
"""
from __future__ import annotations

import os
import secrets
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..errors import BadspiError, OutputError, UsageError, os_error_text
from ..lifeline import process_alive
from ..storage import RemoteStore, is_url

LOCK = "_lock"                 # held by the run writing; holds that run's token (see the module doc)
NO_FLOCK = "no-flock"          # in the lock file when flock does not exclude (some network filesystems)
PID = "pid="                   # in the lock file of a run without flock: pid=PID@HOST
TAKE_OVER_TRIES = 3


class RunLost(BadspiError):
    """The run that started this worker no longer holds the dataset's lock."""


def _fcntl():
    """The ``fcntl`` module, or None where there is none (Windows)."""
    try:
        import fcntl
    except ImportError:
        return None
    return fcntl


def check_lock(root: str | os.PathLike, token: str) -> None:
    """Raise ``RunLost`` unless the run holding ``token`` still holds the dataset's lock:
    the lock file names that token and that run is still there (holds the flock, or its
    process exists)."""
    if is_url(str(root)):
        if not RemoteStore(str(root)).holds(token, LOCK):
            raise RunLost(f"{root}: another run took over the dataset")
        return
    root = Path(root)
    try:
        with open(root / LOCK, "rb") as f:
            held = f.read().decode(errors="replace").split()
            if held[:1] != [token]:
                raise RunLost(f"{root}: another run took over the dataset")
            if NO_FLOCK in held:
                return                        # locks do not exclude here: the token alone tells
            owner = _owner(held)
            if owner is not None:
                if owner[1] == socket.gethostname() and not process_alive(owner[0]):
                    raise RunLost(f"{root}: the run that started this worker is gone")
                return                        # alive, or on another host: the token tells
            fcntl = _fcntl()
            if fcntl is None:
                return                        # a flock run of another machine: the token tells
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return                        # held: by our run
            raise RunLost(f"{root}: the run that started this worker is gone")
    except FileNotFoundError:
        raise RunLost(f"{root}: the run that started this worker has ended") from None


@contextmanager
def dataset_lock(root: Path) -> Iterator[str]:
    """Hold the dataset's lock for one run; yields the run's token, written in the lock
    file so workers can tell their run still holds it.  The lock file is removed at the
    end.  Another run holding it is a ``UsageError``."""
    token = secrets.token_hex(8)
    fcntl = _fcntl()
    try:
        root.mkdir(parents=True, exist_ok=True)
        release = _flock(root, token, fcntl) if fcntl is not None else _pid_lock(root, token)
    except OSError as e:
        raise OutputError(f"{e.filename or root}: cannot write the dataset: {os_error_text(e)}") from None
    try:
        yield token
    finally:
        release()


def _busy(root: Path, why: str = "") -> UsageError:
    return UsageError(f"{root}: another badspi batch is writing this dataset{why}")


def _flock(root: Path, token: str, fcntl) -> Callable[[], None]:
    """flock the lock file (the kernel drops it when this process dies).  The file is
    removed at the end while still held; a run that locked a removed file tries again."""
    path = root / LOCK
    while True:
        lock = open(path, "a+b")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise _busy(root) from None
        try:
            if os.fstat(lock.fileno()).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        lock.close()
    lock.truncate(0)
    lock.write((token if _flock_excludes(path, fcntl) else f"{token} {NO_FLOCK}").encode())
    lock.flush()

    def release() -> None:
        path.unlink(missing_ok=True)
        lock.close()
    return release


def _flock_excludes(path: Path, fcntl) -> bool:
    """Whether a second lock on ``path`` fails while we hold it (not so on some network
    filesystems, where workers then go by the token alone)."""
    with open(path, "rb") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def _pid_lock(root: Path, token: str) -> Callable[[], None]:
    """Without flock: the lock file created exclusively, naming this process."""
    path = root / LOCK
    mine = f"{token} {PID}{os.getpid()}@{socket.gethostname()}"
    if not _create_or_take_over(path, mine):
        owner = _owner((_read(path) or "").split())
        holder = f"process {owner[0]} on {owner[1]}" if owner else "its lock file"
        raise _busy(root, f" ({holder}; if that run is gone, remove {path})")

    def release() -> None:
        if _read(path) == mine:               # ours: never a successor's
            path.unlink(missing_ok=True)
    return release


def _create_or_take_over(path: Path, content: str) -> bool:
    """Create ``path`` holding ``content``, unless it exists; a lock file left by a
    process of this host that has ended is taken over first.  False: someone holds it."""
    for _ in range(TAKE_OVER_TRIES):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            held = _read(path)
            if held is None:
                continue                      # released meanwhile: try again
            if not _stale(held) or not _take_over(path, held, content):
                return False
            continue
        with os.fdopen(fd, "w") as f:
            f.write(content)
        return True
    return False


def _take_over(path: Path, stale: str, content: str) -> bool:
    """Remove the stale lock file ``path`` (holding ``stale``) if it still is that one.
    Only the one run that claims this stale lock — creating ``path.<its token>`` the same
    exclusive way — may remove it, so two runs taking over at once cannot both win, and a
    run that read the stale lock long ago cannot remove its successor's."""
    claim = path.with_name(f"{path.name}.{stale.split()[0]}")
    if not _create_or_take_over(claim, content):
        return False
    try:
        if _read(path) == stale:              # nobody else removes a stale lock: only the claim's holder
            path.unlink(missing_ok=True)
        return True
    finally:
        claim.unlink(missing_ok=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return None


def _owner(held: list[str]) -> tuple[int, str] | None:
    """(pid, host) of a lock file written without flock, else None."""
    for word in held[1:]:
        if word.startswith(PID):
            pid, _, host = word[len(PID):].partition("@")
            if pid.isdigit() and host:
                return int(pid), host
    return None


def _stale(held: str) -> bool:
    """A lock file naming a process of this host that no longer exists.  An empty or
    unreadable one (its run just creating it), a flock run's or another host's is not."""
    owner = _owner(held.split())
    return owner is not None and owner[1] == socket.gethostname() and not process_alive(owner[0])
