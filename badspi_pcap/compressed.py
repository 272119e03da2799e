"""Compressed inputs (gzip, bzip2, xz) read as streams, with a limit on how far they expand,
and line reading that a line without an end cannot blow up.

Captures and logs come from customers: a small file may be a decompression bomb (1 MB of
gzip is 1 GB of zeros; xz and bzip2 go much further).  ``Decompressed`` hands out at most
``STEP`` bytes of output per decompressor call, so memory stays small whatever the ratio,
and stops once the output passes the ``DecompressionLimit``: more than ``max_ratio`` times
the compressed bytes read (beyond the first ``free`` bytes, so small files never trip it)
or more than ``max_size`` in all.  What was decoded before is kept; ``limited`` says why
reading stopped and how to lift the limit: ``decompression_limit=False`` in the API, or
the environment variable ``BADSPI_NO_DECOMPRESSION_LIMIT=1`` (the CLI reads it too).
"""
from __future__ import annotations

import bz2
import io
import lzma
import os
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from .errors import UsageError

COMPRESSIONS = (
    (b"\x1f\x8b", "gzip", lambda: zlib.decompressobj(wbits=31)),
    (b"BZh", "bzip2", bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMADecompressor),
)
NO_LIMIT_ENV = "BADSPI_NO_DECOMPRESSION_LIMIT"
MAX_LINE = 1 << 16  # longer lines are cut here (no log or snoop line comes near it)


@dataclass(frozen=True)
class StreamProblems:
    """What went wrong in a stream read to its end, as every stream wrapper here reports it
    (``problems()``): where the data broke (``error``), why reading stopped early
    (``limited``: the decompression limit), what follows the end (``trailing``)."""

    error: str | None = None
    limited: str | None = None
    trailing: str | None = None

    @property
    def cut(self) -> str | None:
        """Why the stream ends before its data does, if it does."""
        return self.error or self.limited


def stream_problems(stream) -> StreamProblems:
    """The problems of any stream: a wrapper's (``Decompressed``, an archive member's)
    ``problems()``; none for a plain file."""
    problems = getattr(stream, "problems", None)
    return problems() if problems is not None else StreamProblems()


@dataclass(frozen=True)
class DecompressionLimit:
    """How far a compressed input may expand before reading stops.

    Real captures and logs compress 1.1-3:1 (pcap of encrypted traffic) to perhaps 20:1;
    a gzip bomb reaches 1000:1, bzip2 and xz bombs far more.
    """

    max_ratio: float = 100.0        # output bytes per compressed byte read, checked beyond `free`
    max_size: int = 64 << 30        # output bytes in all (64 GiB)
    free: int = 64 << 20            # output below this is never stopped (64 MiB)

    def check(self, produced: int, consumed: int) -> str | None:
        """Why reading must stop after ``produced`` bytes from ``consumed``, or None."""
        if produced > self.max_size:
            what = f"more than the limit of {_size(self.max_size)}"
        elif produced > self.free and produced > self.max_ratio * max(consumed, 1):
            what = f"more than {self.max_ratio:g} times the compressed size (beyond the first {_size(self.free)})"
        else:
            return None
        return (f"stopped decompressing after {_size(produced)} from {_size(consumed)}: {what}; "
                f"a decompression bomb? To read it all, set {NO_LIMIT_ENV}=1 "
                f"(Python: decompression_limit=False)")


def resolve_limit(limit) -> DecompressionLimit | None:
    """The limit to apply: ``None`` means the default (none if ``BADSPI_NO_DECOMPRESSION_LIMIT``
    is set to anything but 0), ``False`` none, or a ``DecompressionLimit``."""
    if limit is None:
        return None if os.environ.get(NO_LIMIT_ENV, "0") not in ("", "0") else DecompressionLimit()
    if limit is False:
        return None
    if isinstance(limit, DecompressionLimit):
        return limit
    raise UsageError(f"decompression_limit must be a DecompressionLimit, None or False, not {limit!r}")


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def compression_of(start: bytes):
    """(name, new decompressor) for the magic bytes ``start`` begins with, or None."""
    for magic, name, new in COMPRESSIONS:
        if start.startswith(magic):
            return name, new
    return None


class ReadStream(io.RawIOBase):
    """A readable, seekable raw stream defined by ``read`` and ``seek``."""

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


class Decompressed(ReadStream):
    """A gzip/bzip2/xz stream read through incremental decompressors.

    Unlike GzipFile & co, a cut-off or corrupt stream does not lose the data decoded
    before the damage: reading simply ends there and ``error`` says why.  Concatenated
    members (``cat a.gz b.gz``) are read one after the other; bytes after the last member
    that are not compressed data (padding, garbage) end the stream, and ``trailing``
    says so.  Output is produced at most
    ``STEP`` bytes at a time and stops at the ``limit`` (``limited`` says why).
    ``tell()`` is the position in the decompressed data; ``problems()`` gives all three.
    """

    PIECE = 1 << 16   # compressed bytes read at a time
    STEP = 1 << 20    # decompressed bytes produced per decompressor call at most

    def __init__(self, raw: BinaryIO, new_decompressor, limit: DecompressionLimit | None = None):
        super().__init__()
        self.raw = raw
        self.new = new_decompressor
        self.limit = limit
        self._reset(rewind=raw.seekable())   # a pipe is read once, from where it is

    def problems(self) -> StreamProblems:
        return StreamProblems(self.error, self.limited, self.trailing)

    def _reset(self, rewind: bool = True) -> None:
        if rewind:
            self.raw.seek(0)
        self.error: str | None = None
        self.limited: str | None = None
        self.trailing: str | None = None
        self._next_start: bytes | None = None  # first bytes of a member after the first
        self._dec = self.new()
        self._zlib = not hasattr(self._dec, "needs_input")
        self._input = b""          # compressed bytes not yet given to the decompressor
        self._drain = False        # zlib filled its last output: it may hold more
        self._buffer = bytearray()
        self._pos = 0
        self._done = False
        self._consumed = 0         # compressed bytes read from raw
        self._produced = 0         # decompressed bytes in all
        self._offset = 0           # decompressed bytes handed out

    def _raw_read(self) -> bytes:
        data = self.raw.read(self.PIECE)
        self._consumed += len(data)
        return data

    def _hungry(self) -> bool:
        return self._dec.needs_input if not self._zlib else not self._drain

    def _step(self) -> None:
        """One bounded decompressor call (or the start of the next member, or the end)."""
        dec = self._dec
        if dec.eof:
            rest = dec.unused_data or self._input or self._raw_read()
            if not rest:
                self._done = True
                return
            self._dec, self._input, self._drain = self.new(), rest, False
            self._next_start = rest[:8]
            return
        data, self._input = self._input, b""
        if not data and self._hungry():
            data = self._raw_read()
            if not data:
                self._done = True
                self.error = "compressed data ends before the end-of-stream marker"
                return
        try:
            out = dec.decompress(data, self.STEP)
        except (OSError, EOFError, lzma.LZMAError, ValueError, zlib.error) as e:
            self._done = True
            if self._next_start is not None:  # not a member: what follows the last one
                self.trailing = (f"data after the end of the compressed stream is not compressed "
                                 f"(it starts with {self._next_start.hex(' ')}); ignored")
            else:
                self.error = str(e) or type(e).__name__
            return
        self._next_start = None  # the decompressor took it: a member
        if self._zlib:
            self._input = dec.unconsumed_tail
            self._drain = len(out) == self.STEP
        self._buffer += out
        self._produced += len(out)
        if self.limit is not None:
            self.limited = self.limit.check(self._produced, self._consumed)
            if self.limited:
                self._done = True

    def _fill(self, want: int) -> None:
        while len(self._buffer) - self._pos < want and not self._done:
            self._step()

    def read(self, n: int = -1) -> bytes:
        want = n if n is not None and n >= 0 else 1 << 62
        self._fill(want)
        out = bytes(self._buffer[self._pos:self._pos + want])
        self._pos += len(out)
        self._offset += len(out)
        if self._pos > (1 << 22):  # drop consumed bytes now and then
            del self._buffer[: self._pos]
            self._pos = 0
        return out

    def seekable(self) -> bool:
        return False

    def seek(self, pos: int, whence: int = 0) -> int:
        if pos != 0 or whence != 0:
            raise OSError("a compressed stream can only be rewound")
        self._reset()
        return 0

    def tell(self) -> int:
        return self._offset

    def close(self) -> None:
        super().close()  # the underlying file stays open: whoever opened it closes it


def open_decompressed(raw: BinaryIO, start: bytes, limit) -> tuple[BinaryIO, str | None]:
    """``raw`` itself, or a ``Decompressed`` over it when ``start`` (its first bytes) is
    the magic of gzip, bzip2 or xz; and the compression's name."""
    found = compression_of(start)
    if found is None:
        return raw, None
    name, new = found
    return Decompressed(raw, new, resolve_limit(limit)), name


def bounded_lines(stream: BinaryIO, cut: list[int] | None = None) -> Iterator[bytes]:
    """The lines of a binary stream (with their ``\\n``), each at most ``MAX_LINE`` bytes:
    the rest of a longer line is read and dropped, and its line number (1-based) is
    appended to ``cut``.  Memory stays bounded whatever the input."""
    wrapped = not hasattr(stream, "peek")
    reader = io.BufferedReader(stream, MAX_LINE) if wrapped else stream
    number = 0
    try:
        while True:
            line = reader.readline(MAX_LINE)
            if not line:
                return
            number += 1
            if len(line) == MAX_LINE and not line.endswith(b"\n"):
                while True:
                    more = reader.readline(MAX_LINE)
                    if not more or more.endswith(b"\n"):
                        break
                if cut is not None:
                    cut.append(number)
                line += b"\n"
            yield line
    finally:
        if wrapped:
            reader.detach()  # the caller closes the stream, not the wrapper's finaliser
