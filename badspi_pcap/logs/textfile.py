"""Reading log and CLI text files as lines, whatever they were saved as.

Compressed files (gzip, bzip2, xz) are read as streams, recognised by their first bytes.
A UTF-16 file (a Windows terminal capture) is recognised by its byte-order mark or by its
pattern of zero bytes.  Everything else is decoded line by line, UTF-8 first and Latin-1
when that fails, so one bad byte spoils nothing but its own line.  NUL bytes are dropped
(real SRX lines carry them).  A stream that breaks off is read up to the break and
recorded as ``Skipped``.
"""
from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import os
import zlib
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError, Skipped

_OPENERS = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))
_STREAM_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)
_CAPTURE_MAGIC = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                  b"\x0a\x0d\x0d\x0a")


def as_paths(paths) -> list[Path]:
    """One path or many (str or PathLike) -> list of Paths."""
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def read_lines(path: Path, skipped: list[Skipped]) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without line end) for every line of ``path``."""
    raw = _open_binary(path)
    try:
        head = raw.peek(4096)[:4096] if hasattr(raw, "peek") else b""
        if head[:4] in _CAPTURE_MAGIC:
            raise InputError(f"{path}: this is a packet capture, not a log")
        encoding = _utf16_encoding(head)
        lines = _utf16_lines(raw, encoding) if encoding else _byte_lines(raw)
        yield from _guard(lines, path, skipped)
    finally:
        raw.close()


def _open_binary(path: Path) -> io.BufferedIOBase:
    try:
        f = open(path, "rb")
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a log file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    magic = f.peek(6)[:6]
    for prefix, opener in _OPENERS:
        if magic.startswith(prefix):
            stream = io.BufferedReader(opener(f, "rb"))
            try:
                stream.peek(1)
            except _STREAM_ERRORS:  # only looked compressed: read the bytes as they are
                f.seek(0)
                return f
            return stream
    return f


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


def _utf16_lines(raw, encoding: str) -> Iterator[str]:
    text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    first = True
    for line in text:
        if first:
            line, first = line.lstrip("\ufeff"), False
        yield line


def _byte_lines(raw) -> Iterator[str]:
    first = True
    for line in raw:
        if first:
            line, first = line.removeprefix(codecs.BOM_UTF8), False
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            yield line.decode("latin-1")


def _guard(lines: Iterable[str], path: Path, skipped: list[Skipped]) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            yield number, line.rstrip("\r\n").replace("\x00", "")
    except _STREAM_ERRORS as e:
        skipped.append(Skipped(str(path), f"after line {number}", f"file ends early or is damaged ({e})"))
