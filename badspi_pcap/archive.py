"""Captures inside tar and zip archives, read as streams and never extracted.

A capture inside an archive is addressed ``ARCHIVE::MEMBER`` (``cases.tgz::site1/fw.pcap``);
each further ``::`` enters a nested archive (``cases.tgz::old.zip::fw.pcap.gz``).  Member
names are labels only: nothing is ever written under them, so ``../x`` or ``/etc/x`` are
harmless.  Links, devices and FIFOs in an archive are listed as skipped, never followed.

``scan(path)`` says what one file holds: a capture, or the captures and other members of
an archive (nested ones too, up to ``MAX_DEPTH``), each capture with the SHA-256 of its
bytes.  ``open_source(source)`` reopens one capture by its ``hops`` in any process, so
workers are sent addresses, never bytes.  Archives are recognised by content (tar, also
gzip/bzip2/xz-compressed, and zip), not by name.
"""
from __future__ import annotations

import hashlib
import lzma
import os
import stat
import tarfile
import threading
import zipfile
import zlib
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from .capture.source import PCAP_MAGICS, PCAPNG_MAGIC, open_capture
from .compressed import COMPRESSIONS, Decompressed, ReadStream, StreamProblems, resolve_limit, stream_problems
from .errors import InputError, without_content
from .storage import absolute, open_binary
from .storage import stat as storage_stat

SEP = "::"
MAX_DEPTH = 4            # archives inside archives inside ...
MAX_MEMBERS = 100_000    # members read from one archive
KEEP = 1 << 20           # bytes of a member kept so format detection can rewind
HASH_SKIPPED_UP_TO = 256 << 20   # non-captures are hashed (to be known again) up to this size
PIECE = 1 << 20
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".ntar", ".dmp", ".snoop", ".trc")
# What reading a damaged archive or compressed stream raises.
DAMAGE = (OSError, EOFError, zlib.error, lzma.LZMAError, tarfile.TarError, zipfile.BadZipFile,
          NotImplementedError, RuntimeError, ValueError)


@dataclass(frozen=True)
class Hop:
    """One step into an archive: the member, and where its bytes are."""

    archive: str               # tar | zip
    compression: str | None    # of the tar stream itself: gzip | bzip2 | xz
    member: str                # the name as stored (a label only)
    offset: int                # tar: data offset in the decompressed tar; zip: local header offset
    size: int                  # the member's size as the archive lists it


@dataclass(frozen=True)
class CaptureLocation:
    """Where one capture is: a file on disk, or a member reached through ``hops``."""

    address: str                      # how it is named everywhere (``a.tgz::x/y.pcap``)
    path: str                         # absolute path of the file on disk
    hops: tuple[Hop, ...] = ()
    size: int = 0                     # bytes as stored (the file, or the member)
    sha256: str | None = None         # of those bytes

    @property
    def member(self) -> str | None:
        return SEP.join(h.member for h in self.hops) or None


@dataclass(frozen=True)
class Unread:
    """Something found that is not read as a capture, and why."""

    address: str
    path: str
    status: str                       # skipped (not a capture) | error (a capture that cannot be read)
    reason: str
    hops: tuple[Hop, ...] = ()
    size: int = 0
    sha256: str | None = None

    @property
    def member(self) -> str | None:
        return SEP.join(h.member for h in self.hops) or None


@dataclass(frozen=True)
class Limits:
    max_depth: int = MAX_DEPTH       # archives inside archives
    max_members: int = MAX_MEMBERS   # members read from one archive


class HashingReader(ReadStream):
    """A forward view of a stream that hashes every byte exactly once, in order.

    It can go back anywhere within the first ``keep`` bytes (format detection reads a
    head and rewinds) without rewinding what lies below, which for a member of a
    compressed tar would mean decompressing the archive again from its start.
    Seeking forward reads through.  ``close()`` leaves the stream open: ``finish()``
    reads the rest and returns the SHA-256.
    """

    def __init__(self, raw: BinaryIO, keep: int = KEEP):
        super().__init__()
        self.raw, self.keep = raw, keep
        self.hash = hashlib.sha256()
        self.head: bytearray | None = bytearray()
        self.pulled = 0
        self.pos = 0

    def _pull(self, n: int) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        self.pulled += len(data)
        if self.head is not None:
            if self.pulled <= self.keep:
                self.head += data
            else:
                self.head = None
        return data

    def read(self, n: int | None = -1) -> bytes:
        n = -1 if n is None else n
        parts = []
        if self.pos < self.pulled:
            end = self.pulled if n < 0 else min(self.pulled, self.pos + n)
            parts.append(bytes(self.head[self.pos:end]))
            n = n if n < 0 else n - (end - self.pos)
            self.pos = end
        if n:
            data = self._pull(n if n > 0 else -1)
            self.pos += len(data)
            parts.append(data)
        return b"".join(parts)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self.pos
        elif whence != 0:
            raise OSError("an archive member can only be rewound to a known offset")
        if pos <= self.pulled and (self.head is not None or pos == self.pos):
            self.pos = pos
        elif pos > self.pulled:
            self.pos = self.pulled
            while self.pos < pos and self.read(min(PIECE, pos - self.pos)):
                pass
        else:
            raise OSError(f"cannot go back to offset {pos} of a stream past its first {self.keep} bytes")
        return self.pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        """Readers close what they read; the owner ends it with ``finish``."""

    def finish(self) -> str:
        while self._pull(PIECE):
            pass
        return self.hash.hexdigest()


class Slice(ReadStream):
    """A seekable window ``[offset, offset + size)`` of a seekable stream (a tar member).

    An archive cut short or damaged inside the member ends the window there, like the
    end of a file (a capture cut short keeps its packets): ``error`` (and ``problems()``)
    says what happened."""

    def __init__(self, base: BinaryIO, offset: int, size: int):
        super().__init__()
        self.base, self.offset, self.size = base, offset, size
        self.pos = 0
        self.error: str | None = None

    def read(self, n: int | None = -1) -> bytes:
        left = self.size - self.pos
        n = left if n is None or n < 0 else min(n, left)
        if n <= 0 or self.error:
            return b""
        parts = []
        try:
            if self.base.tell() != self.offset + self.pos:
                self.base.seek(self.offset + self.pos)
            while n > 0:
                data = self.base.read(min(n, PIECE))
                if not data:
                    why = stream_problems(self.base).cut
                    self.error = (f"the archive ends {self.size - self.pos} bytes before the end of this member"
                                  + (f" ({why})" if why else ""))
                    break
                parts.append(data)
                self.pos += len(data)
                n -= len(data)
        except DAMAGE as e:
            self.error = f"the archive is damaged {self.pos} bytes into this member ({e or type(e).__name__})"
        return b"".join(parts)

    def problems(self) -> StreamProblems:
        return StreamProblems(error=self.error)

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, min(self.size, base + pos))
        return self.pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        """The archive below stays open (it is shared)."""


def looks_like_capture(name: str) -> bool:
    """By name only: used to call unreadable content an error rather than 'not a capture'."""
    name = name.lower()
    for suffix in (".gz", ".bz2", ".xz", ".z"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.endswith(CAPTURE_SUFFIXES)


def archive_kind(stream: BinaryIO) -> tuple[str, str | None] | None:
    """('zip', None), ('tar', compression) or None, from the first bytes (then rewinds)."""
    raw = stream.read(8)
    try:
        if raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return "zip", None
        compression = next((name for magic, name, _ in COMPRESSIONS if raw.startswith(magic)), None)
        stream.seek(0)
        view = _decompressed(stream, compression) if compression else stream
        try:
            head = view.read(512)
        except DAMAGE:
            return None
        if head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC:
            return None
        if len(head) >= 262 and head[257:262] == b"ustar":
            return "tar", compression
        return None
    finally:
        stream.seek(0)


class _Forward(ReadStream):
    """A compressed tar's decompressed bytes, seekable as ``tarfile`` needs: forward by
    reading through, back by decompressing again from the start.  ``Decompressed`` keeps
    what was decoded before damage and stops at the decompression limit (a bomb); a tar
    cut short that way simply ends, and ``problems()`` says why."""

    def __init__(self, stream: Decompressed):
        super().__init__()
        self.stream = stream

    def problems(self) -> StreamProblems:
        return self.stream.problems()

    def read(self, n: int | None = -1) -> bytes:
        return self.stream.read(n)

    def tell(self) -> int:
        return self.stream.tell()

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence not in (0, 1):
            raise OSError("a compressed tar cannot be read from its end")
        pos += self.tell() if whence == 1 else 0
        if pos < self.tell():
            self.stream.seek(0)
        while self.tell() < pos and self.stream.read(min(pos - self.tell(), PIECE)):
            pass
        return self.tell()

    def close(self) -> None:
        self.stream.close()


def _decompressed(stream: BinaryIO, compression: str | None) -> BinaryIO:
    if compression is None:
        return stream
    new = next(factory for _, name, factory in COMPRESSIONS if name == compression)
    return _Forward(Decompressed(stream, new, resolve_limit(None)))


def scan(path: str | os.PathLike, address: str | None = None, limits: Limits | None = None) -> list:
    """What the file at ``path`` holds: ``CaptureLocation``s and ``Unread`` entries."""
    address = address or str(path)
    apath = absolute(path)
    limits = limits or Limits()
    try:
        size, regular, _ = storage_stat(path)
        if not regular:
            return [Unread(address, apath, "skipped", "not a regular file (folder, device, FIFO or socket)")]
        with open_binary(path) as f:
            return list(_scan(f, address, apath, (), size, 0, limits))
    except OSError as e:
        return [Unread(address, apath, "error", f"cannot read: {e.strerror or e}")]


def _scan(stream: BinaryIO, address: str, path: str, hops: tuple, size: int, depth: int,
          limits: Limits) -> Iterator:
    """``stream`` is seekable and at 0; yields what it holds."""
    reader = HashingReader(stream)
    kind = archive_kind(reader)
    if kind is None:
        yield _identify(reader, address, path, hops, size)
        return
    if depth >= limits.max_depth:
        yield Unread(address, path, "skipped", f"archive nested more than {limits.max_depth} deep: not opened",
                     hops, size)
        return
    stream.seek(0)
    entries = (_tar_entries if kind[0] == "tar" else _zip_entries)(stream, kind[1])
    yield from _members(entries, address, path, hops, depth, limits)


def _identify(reader: HashingReader, address, path, hops, size):
    try:
        open_capture(address, stream=reader)
    except InputError as e:
        reason = str(e).removeprefix(f"{address}: ")
        status = "error" if looks_like_capture(address) else "skipped"
        # Hashed (up to a size): the content names the entry wherever the file is found.
        digest = reader.finish() if status == "error" or size <= HASH_SKIPPED_UP_TO else None
        return Unread(address, path, status, without_content(reason), hops, size, digest)
    return CaptureLocation(address, path, hops, size, reader.finish())


def _member_problem(info: tarfile.TarInfo) -> str | None:
    if info.issym():
        return f"symbolic link to {info.linkname!r}: not followed"
    if info.islnk():
        return f"hard link to {info.linkname!r}: not followed"
    if info.ischr() or info.isblk() or info.isfifo():
        return "device or FIFO: not read"
    if info.issparse():
        return "sparse file: not read"
    if not info.isreg():
        return f"tar member of type {info.type!r}: not read"
    return None


def _tar_entries(stream, compression) -> Iterator[tuple]:
    container = _decompressed(stream, compression)
    try:
        tar = tarfile.open(fileobj=container, mode="r:")
        while (info := tar.next()) is not None:
            tar.members.clear()   # keep memory flat on big archives
            if not info.isdir():
                yield (Hop("tar", compression, info.name, info.offset_data, info.size), _member_problem(info),
                       lambda info=info: Slice(container, info.offset_data, info.size))
    except tarfile.TarError as e:
        why = stream_problems(container).cut   # the compressed stream's damage or limit
        raise tarfile.ReadError(f"{e} ({why})" if why else str(e)) from None


def _zip_problem(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link: not followed"
    if mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        return "device or FIFO: not read"
    if info.flag_bits & 0x1:
        return "encrypted: not read"
    limit = resolve_limit(None)    # zip inflates members itself: check what the directory says
    bomb = limit.check(info.file_size, info.compress_size) if limit else None
    return f"not read: it would expand {bomb.split(': ', 1)[1]}" if bomb else None


def _zip_entries(stream, _compression) -> Iterator[tuple]:
    with zipfile.ZipFile(stream) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                yield (Hop("zip", None, info.filename, info.header_offset, info.file_size), _zip_problem(info),
                       lambda info=info: archive.open(info))


def _members(entries: Iterator[tuple], address, path, hops, depth, limits) -> Iterator:
    """What the members of one archive hold; ``entries`` gives (hop, problem, open)."""
    count = 0
    try:
        for hop, problem, opener in entries:
            count += 1
            if count > limits.max_members:
                yield Unread(address, path, "skipped",
                             f"archive has more than {limits.max_members} members: the rest were not read", hops)
                return
            here, chain = f"{address}{SEP}{hop.member}", hops + (hop,)
            if problem:
                yield Unread(here, path, "skipped", problem, chain, hop.size)
                continue
            try:
                with opener() as member:
                    yield from _scan(member, here, path, chain, hop.size, depth + 1, limits)
            except DAMAGE as e:
                yield Unread(here, path, "error", f"member cannot be read: {e or type(e).__name__}", chain, hop.size)
    except DAMAGE as e:
        yield Unread(address, path, "error", f"archive cannot be read after {count} members: "
                                             f"{e or type(e).__name__}", hops)


# Reopening, in whatever process runs the check.  The last archive opened is kept open
# per thread, so the members of one compressed tar, handed out in order, cost one pass
# over it per worker rather than one pass per member.
_cache = threading.local()


def _cached_container(path: str, hop: Hop):
    key = (path, storage_stat(path)[2], hop.archive, hop.compression)
    entry = getattr(_cache, "entry", None)
    if entry and entry[0] == key:
        return entry[1]
    release()
    raw = open_binary(path)
    try:
        container = zipfile.ZipFile(raw) if hop.archive == "zip" else _decompressed(raw, hop.compression)
    except BaseException:
        raw.close()
        raise
    _cache.entry = (key, container, raw)
    return container


def release() -> None:
    """Close the archive kept open by this thread, if any."""
    entry = getattr(_cache, "entry", None)
    _cache.entry = None
    if entry:
        entry[1].close()
        entry[2].close()


@contextmanager
def open_source(source: CaptureLocation) -> Iterator[BinaryIO]:
    """The bytes of ``source`` as a readable stream (seekable within reason)."""
    with ExitStack() as stack:
        if not source.hops:
            try:
                stream = stack.enter_context(open_binary(source.path))
            except OSError as e:
                raise InputError(f"{source.address}: cannot open: {e.strerror or e}") from None
            yield stream
            return
        try:
            container = _cached_container(source.path, source.hops[0])
        except OSError as e:
            raise InputError(f"{source.address}: cannot open {source.path}: {e.strerror or e}") from None
        stream = None
        for i, hop in enumerate(source.hops):
            if i:
                container = (stack.enter_context(zipfile.ZipFile(stream)) if hop.archive == "zip"
                             else _decompressed(stream, hop.compression))
            if hop.archive == "zip":
                stream = stack.enter_context(container.open(_zip_info(container, hop)))
            else:
                stream = Slice(container, hop.offset, hop.size)
        yield stream


def _zip_info(archive: zipfile.ZipFile, hop: Hop) -> zipfile.ZipInfo:
    index = getattr(archive, "_badspi_by_offset", None)
    if index is None:   # once per archive opened: a zip may list 100 000 members
        index = archive._badspi_by_offset = {i.header_offset: i for i in archive.infolist()}
    info = index.get(hop.offset)
    if info is None or info.filename != hop.member:
        raise InputError(f"{hop.member}: no longer in the zip archive")
    return info
