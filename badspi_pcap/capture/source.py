"""Opening a capture file: decompression and format detection by content, not by name."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from ..compressed import (COMPRESSIONS, NO_LIMIT_ENV, Decompressed, DecompressionLimit,  # noqa: F401 (re-exported)
                          open_decompressed, resolve_limit, stream_problems)
from ..errors import InputError

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False), b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True), b"\xa1\xb2\x3c\x4d": (">", True),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
NETSCREEN_LINES_TO_CHECK = 32  # as Wireshark's wiretap/netscreen.c


@dataclass
class OpenedCapture:
    stream: BinaryIO      # positioned at the start of the (decompressed) capture
    raw: BinaryIO         # the file on disk, for progress in bytes
    # when compressed, stream_problems(stream) says where decompression failed, why it
    # stopped early (the decompression limit) and what followed the compressed data
    format: str           # pcap | pcapng | netscreen
    compression: str | None
    head: bytes           # first bytes of the decompressed capture (magic included)

    def close(self) -> None:
        self.stream.close()
        if self.raw is not self.stream:
            self.raw.close()


def open_capture(path: str | os.PathLike, *, stream: BinaryIO | None = None,
                 decompression_limit: DecompressionLimit | bool | None = None) -> OpenedCapture:
    """Open ``path``, undo gzip/bzip2/xz compression, and tell the capture format.

    ``stream``, when given, is read instead of opening ``path`` (which then only names
    the capture in messages): e.g. a member of an archive.  It must allow ``seek(0)``
    after the first 64 KiB have been read; closing the capture closes it.
    ``decompression_limit``: None for the default limit, False for none, or a
    ``DecompressionLimit`` (see ``badspi_pcap.compressed``).
    """
    if stream is not None:
        raw = stream
    else:
        try:
            raw = open(path, "rb")
        except IsADirectoryError:
            raise InputError(f"{path}: is a directory, not a capture file") from None
        except OSError as e:
            raise InputError(f"{path}: cannot open: {e.strerror or e}") from None
        if not raw.seekable():   # a pipe, /dev/stdin, <(gzip -dc x.pcap.gz)
            raw = _spooled(raw, path, decompression_limit)
    try:
        start = raw.read(8)
        if not start:
            raise InputError(f"{path}: empty file")
        raw.seek(0)
        stream, compression = open_decompressed(raw, start, decompression_limit)
        head = _peek(stream, path, compression)
        return OpenedCapture(stream, raw, _detect(head, path), compression, head)
    except OSError as e:   # the first read of a device or special file
        raw.close()
        if e.errno is None:
            raise
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except BaseException:
        raw.close()
        raise


def _spooled(pipe: BinaryIO, path, decompression_limit) -> BinaryIO:
    """The whole of a stream that cannot seek, copied to an unnamed temporary file (the
    readers rewind to tell the format), up to the decompression limit's total size."""
    limit = resolve_limit(decompression_limit)
    most = limit.max_size if limit is not None else None
    spool = tempfile.TemporaryFile(prefix="badspi-pipe-")
    try:
        with pipe:
            if most is None:
                shutil.copyfileobj(pipe, spool, 1 << 20)
            else:
                left = most + 1
                while left > 0 and (chunk := pipe.read(min(1 << 20, left))):
                    spool.write(chunk)
                    left -= len(chunk)
                if left <= 0:
                    raise InputError(f"{path}: a stream of more than {most >> 30} GiB: stopped reading; "
                                     f"to read it all, set {NO_LIMIT_ENV}=1")
        spool.seek(0)
        return spool
    except OSError as e:
        spool.close()
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except BaseException:
        spool.close()
        raise


def _peek(stream: BinaryIO, path, compression) -> bytes:
    head = stream.read(4096)
    error = stream_problems(stream).error
    if error and not head:
        raise InputError(f"{path}: {compression} data is corrupt: {error}")
    stream.seek(0)
    if not head:
        raise InputError(f"{path}: empty after {compression} decompression")
    return head


def _detect(head: bytes, path) -> str:
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC:
        return "pcapng"
    lines = head.decode("latin-1").splitlines()[:NETSCREEN_LINES_TO_CHECK]
    if any("(i) len=" in line or "(o) len=" in line for line in lines):
        return "netscreen"
    from ..logs.sniff import log_format_of

    found = log_format_of(head)
    if found:
        raise InputError(f"{path}: this looks like a log ({found}), not a capture: pass it with -e")
    raise InputError(
        f"{path}: not a capture file (pcap, pcapng or NetScreen snoop text); "
        f"it starts with {head[:8].hex(' ')}"
    )
