"""What a batch reads: files, folders and globs expanded into files to scan
(``expand_inputs``), each file scanned into its captures and archive members
(``find_captures``, ``archive.scan``), and each entry's ``capture_id``."""
from __future__ import annotations

import glob
import hashlib
import os
from typing import Iterable

from ..archive import SEP, CaptureLocation, Limits, Unread, scan
from ..errors import UsageError
from ..storage import absolute, is_url, list_files, stat

ID_DIGITS = 16


def capture_id(entry: CaptureLocation | Unread) -> str:
    """By content; an entry without content (a FIFO, a link, an unreadable file) by where
    it really is, so that naming its folder another way (relative, absolute, through a
    link) finds it done."""
    digest = entry.sha256 or hashlib.sha256(f"unread:{resolved_address(entry)}".encode()).hexdigest()
    return digest[:ID_DIGITS]


def resolved_address(entry: CaptureLocation | Unread) -> str:
    """The entry's file with its folder's links resolved (not the entry's own: a link is
    the entry), then the archive members."""
    if is_url(entry.path):
        return SEP.join([entry.path, *(h.member for h in entry.hops)])
    folder, name = os.path.split(entry.path)
    return SEP.join([os.path.join(os.path.realpath(folder), name), *(h.member for h in entry.hops)])


def expand_inputs(paths: Iterable[str], exclude: str | os.PathLike | None = None
                  ) -> tuple[list[tuple[str, str]], list[Unread]]:
    """Files to scan as (path, address) in a stable order, from files, folders (walked,
    folder links not followed; ``exclude``, the dataset, left out) and globs.  An
    argument that names nothing is an error."""
    files: list[tuple[str, str]] = []
    unread: list[Unread] = []
    seen: set[str] = set()
    skip = os.path.realpath(exclude) if exclude else None

    def add(path: str):
        real = path if is_url(path) else os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            files.append((path, path))

    for arg in paths:
        if is_url(arg):
            for url in list_files(arg, exclude=str(exclude) if exclude else None):
                add(url)
        elif os.path.isdir(arg):
            _walk(arg, add, unread, skip)
        elif os.path.lexists(arg):
            add(os.path.normpath(arg))
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise UsageError(f"{arg}: no file or folder matches")
            for m in matches:
                _walk(m, add, unread, skip) if os.path.isdir(m) else add(os.path.normpath(m))
        else:
            raise UsageError(f"{arg}: no such file or folder")
    return files, unread


def _walk(folder: str, add, unread: list, skip: str | None) -> None:
    """Add the files under ``folder``.  Links to folders are not followed, nor links to
    files outside ``folder`` (a link to /etc/shadow put in a case folder): both are listed
    as skipped."""
    top = os.path.realpath(folder)
    if top == skip:
        return
    for root, dirs, names in os.walk(os.path.normpath(folder)):
        dirs.sort()
        for d in list(dirs):
            where = os.path.join(root, d)
            if os.path.islink(where):
                dirs.remove(d)
                unread.append(Unread(where, os.path.abspath(where), "skipped", "link to a folder: not followed"))
            elif os.path.realpath(where) == skip:
                dirs.remove(d)
        for name in sorted(names):
            where = os.path.join(root, name)
            if os.path.islink(where) and os.path.commonpath([top, os.path.realpath(where)]) != top:
                unread.append(Unread(where, os.path.abspath(where), "skipped",
                                     "link to a file outside the folder: not followed"))
            else:
                add(where)


def find_captures(runner, files: list[tuple[str, str]], limits: Limits, progress) -> list:
    """Scan every file (in the workers: hashing reads every capture), in input order."""
    sizes = {address: _size(path) for path, address in files}
    found = {}
    with progress("finding captures", len(files), sum(sizes.values())) as step:
        scans = [(absolute(path), address, limits) for path, address in files]
        for (path, address, _), ok, value in runner.run(_scan_task, scans):
            found[address] = value if ok else [Unread(address, path, "failed",
                                                      f"internal error: {type(value).__name__}: {value}")]
            step(sizes[address])
    return [e for _, address in files for e in found[address]]


def _scan_task(args) -> list:
    path, address, limits = args
    return scan(path, address, limits)


def _size(path: str) -> int:
    try:
        return stat(path)[0]
    except OSError:
        return 0

