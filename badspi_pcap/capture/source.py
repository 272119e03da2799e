"""Opening a capture file: decompression and format detection by content, not by name."""
from __future__ import annotations

import bz2
import lzma
import os
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import InputError

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False), b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True), b"\xa1\xb2\x3c\x4d": (">", True),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
COMPRESSIONS = (
    (b"\x1f\x8b", "gzip", lambda: zlib.decompressobj(wbits=31)),
    (b"BZh", "bzip2", bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMADecompressor),
)
NETSCREEN_LINES_TO_CHECK = 32  # as Wireshark's wiretap/netscreen.c


class Decompressed:
    """A gzip/bzip2/xz stream read through incremental decompressors.

    Unlike GzipFile & co, a cut-off or corrupt stream does not lose the data decoded
    before the damage: reading simply ends there and ``error`` says why.  Concatenated
    members (``cat a.gz b.gz``) are read one after the other.
    """

    PIECE = 1 << 16

    def __init__(self, raw: BinaryIO, new_decompressor):
        self.raw = raw
        self.new = new_decompressor
        self.error: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.raw.seek(0)
        self._dec = self.new()
        self._buffer = bytearray()
        self._pos = 0
        self._done = False

    def _fill(self, want: int) -> None:
        while len(self._buffer) - self._pos < want and not self._done:
            data = self._dec.unused_data if self._dec.eof else b""
            if self._dec.eof:
                if not data:
                    data = self.raw.read(self.PIECE)
                if not data:
                    self._done = True
                    return
                self._dec = self.new()
            data = data or self.raw.read(self.PIECE)
            if not data:
                self._done = True
                self.error = "compressed data ends before the end-of-stream marker"
                return
            try:
                self._buffer += self._dec.decompress(data)
            except (OSError, EOFError, lzma.LZMAError, ValueError, zlib.error) as e:
                self._done = True
                self.error = str(e) or type(e).__name__

    def read(self, n: int = -1) -> bytes:
        want = n if n >= 0 else 1 << 62
        self._fill(want)
        out = bytes(self._buffer[self._pos:self._pos + want])
        self._pos += len(out)
        if self._pos > (1 << 22):  # drop consumed bytes now and then
            del self._buffer[: self._pos]
            self._pos = 0
        return out

    def seek(self, pos: int, whence: int = 0) -> int:
        if pos != 0 or whence != 0:
            raise OSError("a compressed capture can only be rewound")
        self._reset()
        self.error = None
        return 0

    def tell(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        self.raw.close()

    def __iter__(self):
        # Line iteration, for the snoop text reader.
        rest = b""
        while True:
            chunk = self.read(self.PIECE)
            if not chunk:
                break
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield line + b"\n"
        if rest:
            yield rest


@dataclass
class OpenedCapture:
    stream: BinaryIO      # positioned at the start of the (decompressed) capture
    raw: BinaryIO         # the file on disk, for progress in bytes
    # when compressed, stream.error says where decompression failed
    format: str           # pcap | pcapng | netscreen
    compression: str | None
    head: bytes           # first bytes of the decompressed capture (magic included)

    def close(self) -> None:
        self.stream.close()
        if self.raw is not self.stream:
            self.raw.close()


def open_capture(path: str | os.PathLike, *, stream: BinaryIO | None = None) -> OpenedCapture:
    """Open ``path``, undo gzip/bzip2/xz compression, and tell the capture format.

    ``stream``, when given, is read instead of opening ``path`` (which then only names
    the capture in messages): e.g. a member of an archive.  It must allow ``seek(0)``
    after the first 64 KiB have been read; closing the capture closes it.
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
    try:
        start = raw.read(8)
        if not start:
            raise InputError(f"{path}: empty file")
        raw.seek(0)
        stream, compression = raw, None
        for magic, name, opener in COMPRESSIONS:
            if start.startswith(magic):
                stream, compression = Decompressed(raw, opener), name
                break
        head = _peek(stream, path, compression)
        return OpenedCapture(stream, raw, _detect(head, path), compression, head)
    except BaseException:
        raw.close()
        raise


def _peek(stream: BinaryIO, path, compression) -> bytes:
    head = stream.read(4096)
    error = getattr(stream, "error", None)
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
    raise InputError(
        f"{path}: not a capture file (pcap, pcapng or NetScreen snoop text); "
        f"it starts with {head[:8].hex(' ')}"
    )
