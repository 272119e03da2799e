"""pcapng: the project's own block walk (what Wireshark and dumpcap write by default).

Blocks are found with ``chains`` (a block's length is at its start and again at its end,
so a wrong guess cannot pass the check); packet fields are gathered with NumPy for all
packet blocks of a window at once.  Read: Section Header (either byte order, any number
of sections), Interface Description (link type, snap length, ``if_tsresol`` as a power of
10 or 2, ``if_tsoffset``), Enhanced, Simple and the obsolete Packet block; every other
block is skipped by its length.  Damage is handled as in the pcap walk: the packets
before it are kept, the next block that looks right is searched for, and what was
skipped is reported (a block whose two lengths disagree is named as such).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

import numpy as np

from ..errors import Skipped
from . import chains
from .frames import FrameBatch, _unaligned, among, frame_walk
from .pcap import CHUNK, FIRST_CHUNK, RESYNC_WINDOW, WalkEnd

SHB, IDB, PB, SPB, NRB, ISB, EPB = 0x0A0D0D0A, 1, 2, 3, 4, 5, 6
PACKET_BLOCKS = (EPB, SPB, PB)
# Block types of the pcapng specification (and Wireshark's custom ones): what a resync may land on.
KNOWN_BLOCKS = (SHB, IDB, PB, SPB, NRB, ISB, EPB, 7, 8, 9, 10, 0xBAD, 0x40000BAD, 0x80000001)
BYTE_ORDER_MAGIC = 0x1A2B3C4D
MAX_BLOCK = 16 << 20      # Wireshark's limit for a block; larger lengths are damage
MAX_NS = (1 << 63) - 1    # the latest time a timestamp[ns] holds (2262-04-11)
OPT_END, OPT_TSRESOL, OPT_TSOFFSET = 0, 9, 14


@dataclass
class Interface:
    linktype: int
    snaplen: int
    per_second: int = 1_000_000      # timestamp units per second (if_tsresol)
    offset_s: int = 0                # if_tsoffset: seconds added to every timestamp


@dataclass
class Section:
    """The state a packet block is read in: byte order and the interfaces so far."""
    endian: str = "<"
    interfaces: list[Interface] = field(default_factory=list)

    def key(self):
        return self.endian, [(i.linktype, i.snaplen, i.per_second, i.offset_s) for i in self.interfaces]


def section_header(data, pos: int = 0) -> tuple[str, int]:
    """(byte order, block length) of the Section Header Block at ``pos``; ValueError when
    it is not one."""
    if len(data) - pos < 28:
        raise ValueError("pcapng section header block is cut off")
    magic = bytes(data[pos + 8:pos + 12])
    if magic == b"\x1a\x2b\x3c\x4d":
        endian = ">"
    elif magic == b"\x4d\x3c\x2b\x1a":
        endian = "<"
    else:
        raise ValueError(f"pcapng section header: byte-order magic {magic.hex(' ')} is neither 1a 2b 3c 4d "
                         "nor 4d 3c 2b 1a")
    blen, = struct.unpack_from(endian + "I", data, pos + 4)
    major, = struct.unpack_from(endian + "H", data, pos + 12)
    if blen < 28 or blen % 4 or blen > MAX_BLOCK:
        raise ValueError(f"pcapng section header: impossible block length {blen}")
    if major != 1:
        raise ValueError(f"pcapng section header: version {major} is not supported (only 1.x)")
    return endian, blen


def _options(body, endian: str) -> dict[int, bytes]:
    """Options of a block body (the first of each code)."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, pos)
        if code == OPT_END:
            break
        if pos + 4 + length <= len(body):
            out.setdefault(code, bytes(body[pos + 4:pos + 4 + length]))
        pos += 4 + length + (-length % 4)
    return out


def interface(body, endian: str) -> Interface:
    """An Interface Description Block's body (after type and length)."""
    linktype, snaplen = struct.unpack_from(endian + "HxxI", body, 0)
    opts = _options(body[8:], endian)
    per_second = 1_000_000
    res = opts.get(OPT_TSRESOL)
    if res is not None and len(res) == 1:
        per_second = (2 if res[0] & 0x80 else 10) ** (res[0] & 0x7F)
    offset = opts.get(OPT_TSOFFSET)
    offset_s = struct.unpack(endian + "q", offset)[0] if offset is not None and len(offset) == 8 else 0
    return Interface(linktype, snaplen, per_second, offset_s)


class PcapngWalker:
    """Block steps and guesses over one window (see ``chains``); window offsets of blocks
    are multiples of 4 from the window's start."""

    GUESS_SPAN = 1600

    def __init__(self, data: np.ndarray, end: int, endian: str):
        self.data, self.end, self.endian = data, end, endian
        self.words = np.frombuffer(data, endian + "u4", count=len(data) // 4)
        self.head = struct.Struct(endian + "II").unpack_from
        self.tail = struct.Struct(endian + "I").unpack_from
        self.mv = memoryview(data)

    def step(self, pos: np.ndarray):
        nxt = self.advance(pos)
        return nxt, self.valid(pos, nxt)

    # Clamped reads belong to blocks rejected anyway: blen >= 12 and nxt <= end say the
    # header was whole, and a trailer read clamped to the last word is and-ed with ok.
    def advance(self, pos: np.ndarray) -> np.ndarray:
        """The next block's start after each of ``pos`` (garbage where ``valid`` says no)."""
        w = self.words
        if len(w) < 3:
            return pos + 12 + self.end     # past the end: not valid
        return pos + w[1:][np.minimum(pos >> 2, len(w) - 2)]    # int64 + uint32: int64

    def valid(self, pos: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Whether the blocks at ``pos`` (followed by ``nxt``) are whole, their two lengths
        agree, and none is a Section Header Block (a new section stops the walk)."""
        w = self.words
        if len(w) < 3:
            return np.zeros(pos.shape, dtype=bool)
        blen = nxt - pos
        ok = ((blen - 12).view(np.uint64) <= MAX_BLOCK - 12) & ((blen & 3) == 0) & (nxt <= self.end)
        ok &= w[np.minimum(pos >> 2, len(w) - 2)] != SHB
        ok &= w[np.minimum((nxt >> 2) - 1, len(w) - 1)] == blen
        return ok

    def step1(self, pos: int) -> int:
        if pos + 12 > self.end:
            return -1
        typ, blen = self.head(self.mv, pos)
        nxt = pos + blen
        if (blen < 12 or blen & 3 or blen > MAX_BLOCK or nxt > self.end or typ == SHB
                or self.tail(self.mv, nxt - 4)[0] != blen):
            return -1
        return nxt

    def guess(self, bounds: np.ndarray, anchor: int, segment: int) -> np.ndarray:
        """Per bound, the first packet block after it (of the anchor block's kind, when that
        is a packet block) whose two lengths agree, followed by another such block."""
        out = np.full(len(bounds), -1, dtype=np.int64)
        width = self.GUESS_SPAN // 4
        if not len(bounds) or (bounds[-1] >> 2) + width + 2 > len(self.words):
            return out
        w = self.words
        grid = np.lib.stride_tricks.as_strided(w[bounds[0] >> 2:], shape=(len(bounds), width),
                                               strides=(segment, w.strides[0]))
        kind = int(w[anchor >> 2]) if anchor + 4 <= self.end else EPB
        if kind in PACKET_BLOCKS:   # the usual window holds one kind of packet block: the anchor's
            flat = np.flatnonzero(grid == kind)
        else:
            flat = np.flatnonzero((grid == EPB) | (grid == SPB) | (grid == PB))
        rows, cols = np.divmod(flat, width)
        q = bounds[rows] + 4 * cols
        nxt, ok = self.step(q)
        inside = nxt + 12 <= self.end
        ok &= ~inside | self.step(np.where(inside & ok, nxt, q))[1]
        rows, q = rows[ok], q[ok]
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else rows
        out[rows[first]] = q[first]
        return out


@frame_walk
def iter_pcapng(stream: BinaryIO, name: str,
                progress: Callable[[], None] | None = None, chunk: int | None = None, *, skipped: list[Skipped],
                start: int = 0, stop: int | None = None, section: Section | None = None,
                first_frame: int = 1, ended: WalkEnd | None = None) -> Iterator[FrameBatch]:
    """Batches of packets from file offset ``start`` (a block boundary; ``section`` the state
    there, default: the file's start) on; with ``stop``, only blocks that start before it
    (``ended`` then says where the next one is, and ``ended.section`` the state there)."""
    from .windows import Windows, next_window

    largest = chunk or CHUNK
    size = min(FIRST_CHUNK, largest)
    windows = Windows(stream)
    if start and not windows.mapped:
        raise ValueError("a range of a capture can only be read from a plain file")
    state = section or Section()
    notes = _Notes(name, skipped)
    frame = first_frame
    file_offset = start
    eof = done = False
    beyond = 1 << 20   # a ranged walk reads this far past its stop (more for a longer block)
    while not eof and not done:
        want = size if stop is None else max(16, min(size, stop - file_offset + beyond))
        data, eof = windows.view(file_offset, want)
        end = len(data)
        at = 0          # where the walker's bytes start in the window (moves after a resync)
        walker = PcapngWalker(data, end, state.endian)
        off = 0         # in the walker's bytes
        batches: list[FrameBatch] = []
        while True:
            offs, off = chains.walk(walker, off, end - at)
            if stop is not None:
                past = int(np.searchsorted(offs, stop - file_offset - at))
                if past < len(offs) or file_offset + at + off >= stop:
                    off = int(offs[past]) if past < len(offs) else off
                    offs = offs[:past]
                    done = True
            batch = _packets(walker, offs, state, file_offset + at, frame, notes)
            if batch is not None:
                frame += len(batch)
                batches.append(batch)
            if done or at + off + 12 > end:
                break
            typ, blen = walker.head(walker.mv, off)
            problem = None
            if typ == SHB:
                try:
                    endian, blen = section_header(walker.data, off)
                except ValueError as e:
                    if at + off + 28 > end:   # cut by the window, or by the end of the file
                        if not eof:
                            break
                        notes.add(f"offset {file_offset + at + off}", f"the file ends inside a section header "
                                  f"block ({end - at - off} bytes); ignored")
                        off = end - at
                        break
                    endian, problem = state.endian, str(e)
                if problem is None:
                    if at + off + blen > end and not eof:
                        break
                    if (at + off + blen > end  # the trailer is read only when the block is in the window
                            or struct.unpack_from(endian + "I", walker.data, off + blen - 4)[0] != blen):
                        problem = _length_problem(walker.data, off, end - at, endian, blen)
                    else:
                        state = Section(endian)
                        at, off = at + off + blen, 0
                        walker = PcapngWalker(data[at:], end - at, endian)
                        continue
            elif 12 <= blen <= MAX_BLOCK and not blen & 3 and at + off + blen > end:
                if not eof:
                    break  # a block cut by the window: read more
                notes.add(f"offset {file_offset + at + off}", f"the file ends inside a block "
                          f"({end - at - off} of {blen} bytes); ignored")
                off = end - at
                break
            else:
                problem = _length_problem(walker.data, off, end - at, state.endian, blen)
            good = _resync(data, at + off, end, eof, state.endian, file_offset, notes, problem)
            if good is None:
                break  # too little data to tell: read more
            # walk on from there (block offsets are multiples of 4 from a walker's start)
            at, off = good, 0
            walker = PcapngWalker(data[at:], end - at, state.endian)
        off += at
        if eof and not done and 0 < end - off < 12:
            notes.add(f"offset {file_offset + off}",
                      f"{end - off} trailing bytes, too short for a block header; ignored")
            off = end
        yield from batches
        size, beyond = next_window(size, beyond, largest, stuck=off == 0 and not eof and not done)
        file_offset += off
        if progress:
            progress()
    notes.flush()
    if ended is not None:
        ended.frames = frame - first_frame
        ended.offset = file_offset
        ended.section = state


def _length_problem(data, off: int, end: int, endian: str, blen: int) -> str:
    if blen < 12 or blen & 3 or blen > MAX_BLOCK:
        return f"impossible block length {blen}"
    if off + blen <= end:
        tail, = struct.unpack_from(endian + "I", data, off + blen - 4)
        return f"block length {blen} at its start but {tail} at its end"
    return f"block length {blen}"


def _resync(data, off: int, end: int, eof: bool, endian: str, file_offset: int, notes: "_Notes",
            problem: str) -> int | None:
    """Skip damage at ``off``: the offset of the next block that looks right (its two
    lengths agree, and the next block's too, or the file ends after it), searched for
    within RESYNC_WINDOW bytes.  None: the window is too short to tell; read more."""
    if not eof and end - off < RESYNC_WINDOW + (1 << 20):
        return None
    words = _unaligned(data[off:end], endian + "u4")
    n = end - off
    span = min(n - 11, RESYNC_WINDOW)
    good = None
    if span > 1:
        cand = np.flatnonzero(among(words[1:span], KNOWN_BLOCKS)) + 1
        blen = words[cand + 4].astype(np.int64)
        nxt = cand + blen
        ok = (blen >= 12) & ((blen & 3) == 0) & (blen <= MAX_BLOCK) & (nxt <= n)
        cand, blen, nxt = cand[ok], blen[ok], nxt[ok]
        ok = words[nxt - 4] == blen
        for c, x in zip(cand[ok].tolist(), nxt[ok].tolist()):
            if x == n and eof:
                good = c
                break
            if x + 12 <= n:
                b2 = int(words[x + 4])
                if 12 <= b2 <= MAX_BLOCK and not b2 & 3 and (x + b2 > n or int(words[x + b2 - 4]) == b2):
                    good = c
                    break
    lost = good if good is not None else max(min(n, RESYNC_WINDOW), 1)
    what = "skipped" if good is not None else "no good block within; skipped"
    notes.add(f"offset {file_offset + off}", f"corrupt block ({problem}); {what} {lost} bytes")
    return off + lost


class _Notes:
    """Warnings, with the repeated kinds (a packet naming an unknown interface) counted."""

    def __init__(self, name: str, skipped: list[Skipped]):
        self.name, self.skipped = name, skipped
        self.unknown_interface: list = []   # [count, first offset, id, interfaces then]
        self.short: list = []
        self.late = 0

    def add(self, where: str, reason: str, count: int = 1) -> None:
        self.skipped.append(Skipped(self.name, where, reason, count))

    def flush(self) -> None:
        if self.late:
            self.add("reader", f"{self.late} frames have a timestamp after 2262-04-11; set to that date", self.late)
        if self.unknown_interface:
            n, at, intid, have = self.unknown_interface
            self.add(f"offset {at}", f"{n} packet block{'s name' if n > 1 else ' names'} an interface the file has "
                                     f"not described (the first: id {intid}, {have} described); skipped", n)
        if self.short:
            n, at = self.short
            self.add(f"offset {at}", f"{n} packet block{'s' if n > 1 else ''} too short for "
                                     f"{'their' if n > 1 else 'its'} header; skipped", n)


def _packets(walker: PcapngWalker, offs: np.ndarray, state: Section, file_offset: int, first_frame: int,
             notes: _Notes) -> FrameBatch | None:
    """The packets among the blocks at ``offs``, read with the section's interfaces (which
    the Interface Description Blocks among them extend, in order)."""
    if not len(offs):
        return None
    head = _headers(walker.words, offs >> 2)    # words 0-6 of each block: one read
    typ = head[:, 0]
    blen = head[:, 1].astype(np.int64)
    idb = np.flatnonzero(typ == IDB)
    before = len(state.interfaces)
    for k in idb.tolist():
        o = int(offs[k])
        body = walker.data[o + 8:o + int(blen[k]) - 4]
        if len(body) < 8:
            notes.add(f"offset {file_offset + o}", "interface description block too short; ignored")
            continue
        state.interfaces.append(interface(body, state.endian))
    pkt = np.flatnonzero(among(typ, PACKET_BLOCKS))
    if not len(pkt):
        return None
    if len(pkt) == len(offs):     # only packet blocks (the usual window): no selection
        po, pt, pl, ph = offs, typ, blen, head
    else:
        po, pt, pl, ph = offs[pkt], typ[pkt], blen[pkt], head[pkt]
    only_epb = bool((pt == EPB).all())   # the usual case: the where()s below are not needed
    simple = pt == SPB
    # interface, timestamp, lengths: EPB and PB share a layout (PB: 16-bit id then drops)
    intid: np.ndarray = ph[:, 2].astype(np.int64)
    if not only_epb:
        intid = np.where(simple, 0, intid)
        if state.endian == "<":
            intid = np.where(pt == PB, intid & 0xFFFF, intid)
        else:
            intid = np.where(pt == PB, intid >> 16, intid)
    ticks: np.ndarray = (ph[:, 3].astype(np.uint64) << np.uint64(32)) | ph[:, 4].astype(np.uint64)
    caplen = ph[:, 5].astype(np.int64)
    if only_epb:
        wirelen = ph[:, 6].astype(np.int64)
        start = po + 28
        room = pl - 32
    else:
        wirelen = np.where(simple, ph[:, 2], ph[:, 6]).astype(np.int64)
        start = po + np.where(simple, 12, 28)
        room = pl - np.where(simple, 16, 32)
    # interfaces known when each block was read (IDBs before it, in this or earlier walks)
    known = before + np.searchsorted(offs[idb], po)
    good = (intid < known) & (room >= 0)
    if not good.all():
        short = room < 0
        if short.any():
            first = int(po[np.flatnonzero(short)[0]]) + file_offset
            n = int(short.sum())
            notes.short = [notes.short[0] + n, notes.short[1]] if notes.short else [n, first]
        unknown = (intid >= known) & ~short
        if unknown.any():
            j = int(np.flatnonzero(unknown)[0])
            n = int(unknown.sum())
            if notes.unknown_interface:
                notes.unknown_interface[0] += n
            else:
                notes.unknown_interface = [n, int(po[j]) + file_offset, int(intid[j]), int(known[j])]
        keep = np.flatnonzero(good)
        po, intid, ticks, caplen, wirelen, start, room, simple = (
            a[keep] for a in (po, intid, ticks, caplen, wirelen, start, room, simple))
        if not len(po):
            return None
    ifs = state.interfaces
    if len(ifs) == 1:
        linktype = np.full(len(po), ifs[0].linktype, dtype=np.int64)
    else:
        linktype = np.array([x.linktype for x in ifs], dtype=np.int64)[intid]
    if only_epb:
        caplen = np.minimum(caplen, room)
    else:
        snap = np.array([x.snaplen or (1 << 32) for x in ifs], dtype=np.int64)[intid]
        # SPB: the captured length is the wire length cut at the snap length (0: no limit)
        caplen = np.minimum(np.where(simple, np.minimum(wirelen, snap), caplen), room)
        ticks = np.where(simple, np.uint64(0), ticks)
    time_ns, late = _times(ticks, intid, ifs)
    notes.late += late
    return FrameBatch(buf=walker.data, start=start, caplen=caplen, wirelen=wirelen, time_ns=time_ns,
                      linktype=linktype, frame=np.arange(first_frame, first_frame + len(po), dtype=np.int64))


def _headers(words: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Words ``i`` to ``i + 6`` (a packet block's header: type, length, interface, time,
    lengths) as rows of an (n, 7) array, in one gather of 28-byte items.  Words past the
    end (a short block at the end of the window) read as 0; they belong to blocks that
    are too short for them, which are not read from them."""
    n = len(words)
    if n < 7 or (len(i) and int(i[-1]) > n - 7):
        at = i[:, None] + np.arange(7)
        return np.where(at < n, words[np.minimum(at, n - 1)], 0).astype(words.dtype) if n else \
            np.zeros((len(i), 7), words.dtype)
    items = np.ndarray(shape=(n - 6,), dtype="V28", buffer=words, strides=(4,))
    return items[i].view(words.dtype).reshape(len(i), 7)


def _times(ticks: np.ndarray, intid: np.ndarray, ifs: list[Interface]) -> tuple[np.ndarray, int]:
    """ns since the epoch from each interface's ticks, resolution and offset (floor, as
    Scapy computes it); clamped (and counted) past 2262."""
    out = np.empty(len(ticks), dtype=np.int64)
    late = 0
    giga = np.uint64(1_000_000_000)
    # usually one interface: no sort to find the ones present
    one = len(ifs) == 1 or not len(intid) or bool((intid == intid[0]).all())
    for k in [int(intid[0])] if one and len(intid) else np.unique(intid).tolist():
        at = slice(None) if one else np.flatnonzero(intid == k)
        t = ticks[at]
        per_second = ifs[k].per_second
        step = 1_000_000_000 // per_second
        top = t.max(initial=0)
        if step * per_second == 1_000_000_000 and int(top) <= MAX_NS // step:
            # ns or a power of 10 coarser (the usual resolutions): one multiplication, exact
            ns = t.astype(np.int64) * step if step > 1 else t.astype(np.int64)
            if ifs[k].offset_s:
                ns = ns + ifs[k].offset_s * 1_000_000_000
            out[at] = ns
            continue
        whole = t // np.uint64(per_second) if per_second < 1 << 34 else None
        if whole is not None and whole.max(initial=0) < MAX_NS // 1_000_000_000:
            # split so that nothing overflows: whole seconds, then the fraction
            frac = (t % np.uint64(per_second)) * giga // np.uint64(per_second)
            ns = (whole * giga + frac).astype(np.int64)
        else:   # odd resolutions, or times past 2262: exactly, in Python integers
            exact = [v * 1_000_000_000 // per_second for v in t.tolist()]
            late += sum(v > MAX_NS for v in exact)
            ns = np.array([min(v, MAX_NS) for v in exact], dtype=np.int64)
        if ifs[k].offset_s:
            ns = ns + ifs[k].offset_s * 1_000_000_000
        out[at] = ns
    return out, late
