"""Reading log and CLI text files as lines, whatever they were saved as.

Compressed files (gzip, bzip2, xz) are read as streams, recognised by their first bytes,
under the same decompression limit as captures (``badspi_pcap.compressed``).
A UTF-16 file (a Windows terminal capture) is recognised by its byte-order mark or by its
pattern of zero bytes.  Everything else is decoded line by line, UTF-8 first and Latin-1
when that fails, so one bad byte spoils nothing but its own line.  NUL bytes are dropped
(real SRX lines carry them).  A line longer than 64 KiB is cut there.  A stream that
breaks off, or stops at the decompression limit, is read up to there and recorded as
``Skipped``.  A log is read up to ``MAX_LOG_BYTES`` (after decompression; the environment
variable ``BADSPI_MAX_LOG_SIZE`` sets another limit, 0 none), so that /dev/zero or an
endless pipe ends with a message instead of running forever.
"""
from __future__ import annotations

import codecs
import io
import os
from pathlib import Path
from typing import Iterable, Iterator

from ..compressed import (MAX_LINE, Decompressed, DecompressionLimit, _size, bounded_lines, compression_of,
                          resolve_limit)
from ..errors import InputError, Skipped, UsageError
from ..storage import is_url, local, open_binary

_STREAM_ERRORS = (EOFError, OSError, ValueError)
MAX_LOG_BYTES = 8 << 30           # bytes of text read from one log (8 GiB)
LOG_LIMIT_ENV = "BADSPI_MAX_LOG_SIZE"
CUT_LINES_LISTED = 10             # long lines warned about one by one; the rest in one warning
STOPPED = "stopped reading after"
_CAPTURE_MAGIC = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                  b"\x0a\x0d\x0d\x0a")


def as_paths(paths) -> list[Path | str]:
    """One path or many (str or PathLike) -> list of Paths (URLs stay strings: storage.py)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return [p if is_url(local(p)) else Path(local(p)) for p in paths]


def read_lines(path: Path | str, skipped: list[Skipped],
               decompression_limit: DecompressionLimit | bool | None = None) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without line end) for every line of ``path``."""
    raw = _open_binary(path)
    stream = _decompressing(raw, decompression_limit)
    dec = getattr(stream, "raw", None)
    dec = dec if isinstance(dec, Decompressed) else None
    capped = _Capped(stream, log_size_limit())
    text = io.BufferedReader(capped, 1 << 16)
    try:
        head = text.peek(4096)[:4096]
        if head[:4] in _CAPTURE_MAGIC:
            raise InputError(f"{path}: this is a packet capture, not a log")
        encoding = _utf16_encoding(head)
        cut: list[int] = []
        lines = _utf16_lines(text, encoding, cut) if encoding else _byte_lines(text, cut)
        number = yield from _guard(lines, path, skipped,
                                   lambda: capped.stopped or (dec is not None and (dec.error or dec.limited)))
        for n in cut[:CUT_LINES_LISTED]:
            skipped.append(Skipped(str(path), f"line {n}",
                                   f"line longer than {MAX_LINE} characters; the rest is ignored"))
        if len(cut) > CUT_LINES_LISTED:
            skipped.append(Skipped(str(path), f"lines {cut[CUT_LINES_LISTED]} to {cut[-1]}",
                                   f"more lines longer than {MAX_LINE} characters; the rest of each is ignored",
                                   len(cut) - CUT_LINES_LISTED))
        if capped.stopped:
            skipped.append(Skipped(str(path), f"after line {number}",
                                   f"{STOPPED} {_size(capped.limit)}: the log size limit "
                                   f"(set {LOG_LIMIT_ENV}=64G, say, "
                                   f"to read further, 0 for no limit)"))
        if dec is not None and dec.error:
            skipped.append(Skipped(str(path), f"after line {number}", f"file ends early or is damaged ({dec.error}); "
                                                                      "a line cut off there is not read"))
        if dec is not None and dec.limited:
            skipped.append(Skipped(str(path), f"after line {number}", dec.limited))
        if dec is not None and dec.trailing:
            skipped.append(Skipped(str(path), f"after line {number}", dec.trailing))
    finally:
        text.detach()
        stream.close()
        raw.close()


def log_size_limit() -> int | None:
    """Bytes read from one log at most: ``MAX_LOG_BYTES`` or ``BADSPI_MAX_LOG_SIZE``
    (a number of bytes with an optional K, M, G or T; 0 for no limit)."""
    text = os.environ.get(LOG_LIMIT_ENV, "").strip()
    if not text:
        return MAX_LOG_BYTES
    units = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
    number, unit = text.rstrip("KMGTkmgtiIbB"), text[len(text.rstrip("KMGTkmgtiIbB")):].upper()[:1]
    try:
        value = int(float(number) * (1 << units[unit]))
    except (ValueError, KeyError):
        raise UsageError(f"{LOG_LIMIT_ENV}={text!r}: give a size like 64G or 500M (0: no limit)") from None
    return value or None


class _Capped(io.RawIOBase):
    """A stream that ends after ``limit`` bytes (None: never); ``stopped`` says whether
    there was more."""

    def __init__(self, stream, limit: int | None):
        super().__init__()
        self.stream, self.limit = stream, limit
        self.count = 0
        self.stopped = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = len(buffer)
        if self.limit is not None:
            want = min(want, self.limit - self.count)
            if want <= 0:
                self.stopped = self.stopped or bool(self.stream.read(1))
                return 0
        data = self.stream.read(want)
        buffer[:len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        """The stream below is closed by its owner."""
        super().close()


def _open_binary(path: Path) -> io.BufferedReader:
    try:
        return open_binary(path)
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a log file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None


def _decompressing(f: io.BufferedReader, limit) -> io.BufferedReader:
    """``f``, or a buffered stream of its decompressed content when it starts like gzip,
    bzip2 or xz and decompresses (a file that only looks compressed is read as it is)."""
    found = compression_of(f.peek(6)[:6])
    if found is None:
        return f
    dec = Decompressed(f, found[1], resolve_limit(limit))
    stream = io.BufferedReader(dec, 1 << 16)
    if not stream.peek(1) and dec.error:
        stream.detach()
        if not f.seekable():   # a pipe cannot go back to read it as plain text
            raise InputError(f"{getattr(f, 'name', 'input')}: starts like {found[0]} data but does not "
                             f"decompress ({dec.error})")
        f.seek(0)
        return f
    return stream


def _utf16_encoding(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    sample = head[:200]
    if len(sample) >= 8:
        even_zeros = sample[0::2].count(0) / len(sample[0::2])
        odd_zeros = sample[1::2].count(0) / len(sample[1::2])
        if odd_zeros > 0.4 and even_zeros < 0.05:
            return "utf-16-le"
        if even_zeros > 0.4 and odd_zeros < 0.05:
            return "utf-16-be"
    return None


def _utf16_lines(raw, encoding: str, cut: list[int]) -> Iterator[str]:
    text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    try:
        first, number = True, 0
        while True:
            line = text.readline(MAX_LINE)
            if not line:
                return
            number += 1
            if first:
                line, first = line.lstrip("\ufeff"), False
            if len(line) >= MAX_LINE and not line.endswith(("\n", "\r")):
                while True:
                    more = text.readline(MAX_LINE)
                    if not more or more.endswith(("\n", "\r")):
                        break
                cut.append(number)
            yield line
    finally:
        text.detach()  # the caller closes the stream


def _byte_lines(raw, cut: list[int]) -> Iterator[str]:
    first = True
    for line in bounded_lines(raw, cut):
        if first:
            line, first = line.removeprefix(codecs.BOM_UTF8), False
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            yield line.decode("latin-1")


def _guard(lines: Iterable[str], path: Path, skipped: list[Skipped], broken):
    """Yields the numbered lines without their ends; returns the number of the last one.
    The last line is held back: when the stream broke off (``broken()``) a last line
    without its end is a fragment and is dropped, not read with a cut-off value."""
    number, held = 0, None
    try:
        for number, line in enumerate(lines, 1):
            if held is not None:
                held = held.rstrip("\r\n")
                yield number - 1, held.replace("\x00", "") if "\x00" in held else held
            held = line
    except _STREAM_ERRORS as e:
        skipped.append(Skipped(str(path), f"after line {number}", f"file ends early or is damaged ({e})"))
    if held is not None:
        if held.endswith(("\n", "\r")) or not broken():
            yield number, held.rstrip("\r\n").replace("\x00", "")
        else:
            number -= 1
    return number
