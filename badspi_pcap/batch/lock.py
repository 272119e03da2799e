"""The dataset's lock: one run at a time writes a dataset, and a worker writes nothing
once the run that started it no longer holds the lock (``check_lock``)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import BadspiError, OutputError, UsageError, os_error_text
from ..storage import RemoteStore, is_url

LOCK = "_lock"                 # held (flock) by the run writing; holds that run's token
NO_FLOCK = "no-flock"          # in the lock file when flock does not exclude (some network filesystems)


class RunLost(BadspiError):
    """The run that started this worker no longer holds the dataset's lock."""



def check_lock(root: Path, token: str) -> None:
    """Raise ``RunLost`` unless the run holding ``token`` still holds the dataset's lock:
    the lock file names that token and someone (that run) holds its lock."""
    import fcntl

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
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return                        # held: by our run
            raise RunLost(f"{root}: the run that started this worker is gone")
    except FileNotFoundError:
        raise RunLost(f"{root}: the run that started this worker has ended") from None


@contextmanager
def _locked(root: Path) -> Iterator[str]:
    """Hold the dataset's lock for one run; yields the run's token, written in the lock
    file so workers can tell their run still holds it.  The lock file is removed at the
    end (while still held; a run that locked a removed file tries again)."""
    import fcntl
    import secrets

    token = secrets.token_hex(8)
    path = root / LOCK
    try:
        root.mkdir(parents=True, exist_ok=True)
        while True:
            lock = open(path, "a+b")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                raise UsageError(f"{root}: another badspi batch is writing this dataset") from None
            try:
                if os.fstat(lock.fileno()).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                pass
            lock.close()
        lock.truncate(0)
        lock.write((token if _flock_excludes(path) else f"{token} {NO_FLOCK}").encode())
        lock.flush()
    except OSError as e:
        raise OutputError(f"{e.filename or root}: cannot write the dataset: {os_error_text(e)}") from None
    try:
        yield token
    finally:
        path.unlink(missing_ok=True)
        lock.close()


def _flock_excludes(path: Path) -> bool:
    """Whether a second lock on ``path`` fails while we hold it (not so on some network
    filesystems, where workers then go by the token alone)."""
    import fcntl

    with open(path, "rb") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
