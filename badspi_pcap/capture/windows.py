"""A capture's bytes, one window at a time, without copying where possible.

A plain file is memory-mapped window by window (no read copy; a window is unmapped when
the last batch that points into it is gone, so memory stays at about one window however
big the file).  Anything else (a decompressed stream, an archive member) is read into a
buffer, with the unread tail of the previous window carried over.
"""
from __future__ import annotations

import io
import mmap
import os
import stat
from typing import BinaryIO

import numpy as np


class Windows:
    """``view(pos, size)`` gives the bytes at file offsets ``[pos, pos + size)`` (fewer at the
    end of the file) as a uint8 array, and whether they reach the end of the file.
    Positions never go backwards from one call to the next."""

    def __init__(self, stream: BinaryIO, base: int = 0):
        self.stream = stream
        self.fd = _mappable(stream)
        self.size = os.fstat(self.fd).st_size if self.fd is not None else None
        self._buf = np.empty(0, np.uint8)   # stream mode: bytes from file offset _at on
        self._at = base
        self._eof = False

    @property
    def mapped(self) -> bool:
        return self.fd is not None

    def view(self, pos: int, size: int) -> tuple[np.ndarray, bool]:
        if self.fd is not None:
            return self._mapped_view(pos, size)
        return self._stream_view(pos, size)

    def _mapped_view(self, pos: int, size: int):
        assert self.fd is not None and self.size is not None   # only a mapped file gets here
        size = max(0, min(size, self.size - pos))
        if size == 0:
            return np.empty(0, np.uint8), True
        start = pos - pos % mmap.ALLOCATIONGRANULARITY
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        mm = mmap.mmap(self.fd, pos + size - start, flags=flags, prot=mmap.PROT_READ, offset=start)
        # The array keeps the mapping alive; it is unmapped when the last view is gone.
        view = np.frombuffer(mm, np.uint8)[pos - start:]
        self.stream.seek(pos + size)  # so that tell() reports progress as with reads
        return view, pos + size >= self.size

    def _stream_view(self, pos: int, size: int):
        keep = self._buf[pos - self._at:] if pos - self._at < len(self._buf) else self._buf[:0]
        if len(keep) >= size or self._eof:
            self._buf, self._at = keep, pos
            return keep[:size], self._eof and len(keep) <= size
        buf = np.empty(size, np.uint8)
        buf[:len(keep)] = keep
        got = len(keep)
        readinto = getattr(self.stream, "readinto", None)
        while got < size:
            if readinto is not None:
                n = readinto(memoryview(buf)[got:])
            else:
                more = self.stream.read(size - got)
                n = len(more)
                buf[got:got + n] = np.frombuffer(more, np.uint8)
            if not n:
                self._eof = True
                break
            got += n
        self._buf, self._at = buf[:got], pos
        return self._buf, self._eof


def next_window(size: int, beyond: int, largest: int, stuck: bool) -> tuple[int, int]:
    """The next window's size and look-ahead: doubled while one record does not fit in a
    whole window (``stuck``: nothing was walked), else four times larger up to ``largest``
    (small files stay cheap, big ones get big windows)."""
    return (size * 2, beyond * 2) if stuck else (min(size * 4, largest), beyond)


def _mappable(stream: BinaryIO) -> int | None:
    """The file descriptor of a plain, seekable, non-empty regular file; else None."""
    if not isinstance(stream, (io.BufferedReader, io.FileIO)):
        return None
    try:
        fd = stream.fileno()
        st = os.fstat(fd)
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return fd if stat.S_ISREG(st.st_mode) and st.st_size > 0 else None
