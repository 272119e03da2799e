"""Finding the records of a window of capture bytes, many at a time.

A record's position is only known once the record before it has been read (pcap: its
captured length; pcapng: its block length), so a plain loop pays one Python step per
packet.  Here the window is cut into segments; in each, a likely record start is
*guessed* from the bytes (``Walker.guess``), and all segments are walked at once with
NumPy, one record per segment per step.  Then the guesses are *checked*: segment k's
walk must end exactly where segment k+1's began.  Where it does not (a wrong guess,
damage, a segment with too many records), the part in question is walked again one
record at a time.  So the result is always exactly that of the plain loop: the guesses
decide only how fast it comes.

A ``Walker`` (one per window and format) provides:

- ``advance(pos)``: for an array of record starts, the next record's start (garbage for a
  record that is not whole, but never a read outside the window);
- ``valid(pos, nxt)``: whether the records at ``pos`` (next ones at ``nxt``, any shape)
  are whole and plausible (the plain loop stops at the first that is not);
- ``step1(pos)``: both for one record, in plain Python (-1: not valid; the fallback);
- ``guess(bounds, anchor, segment)``: per bound (bounds are ``segment`` bytes apart), the
  first likely record start at or after it, or -1 (``anchor`` is a known record start).
"""
from __future__ import annotations

import numpy as np

SEGMENT = 16 << 10      # bytes per segment walked in lockstep
MIN_SEGMENTS = 8        # fewer than this: the plain loop is as quick
MAX_STEPS = 256         # records per segment walked in lockstep; the rest one by one
CHECK = 4               # lockstep steps between record checks


def walk(walker, off: int, end: int) -> tuple[np.ndarray, int]:
    """Starts of the whole, plausible records from ``off`` on, and where the walk stopped
    (a record cut by ``end``, or one ``valid`` rejects): what ``walk1`` gives, faster."""
    segment = SEGMENT
    if end - off < MIN_SEGMENTS * segment:
        offsets, stop, _ = walk1(walker, off, end + 1)
        return np.asarray(offsets, dtype=np.int64), stop
    bounds = np.arange(off + segment, end - segment, segment, dtype=np.int64)
    guesses = walker.guess(bounds, off, segment)
    guesses = guesses[guesses > off]
    if len(guesses) > 1 and not (guesses[1:] > guesses[:-1]).all():  # increasing unless segments are short
        guesses = np.unique(guesses)
    starts = np.concatenate([[off], guesses]).astype(np.int64)
    limits = np.concatenate([starts[1:], [end + 1]])
    positions, bounds, last, state = _lockstep(walker, starts, limits)
    return _checked(walker, starts, limits, positions, bounds, last, state)


# chain states after the lockstep walk
REACHED, STUCK, UNFINISHED = 0, 1, 2


def _lockstep(walker, starts: np.ndarray, limits: np.ndarray):
    """Walk every chain from its start until it reaches its limit (the next chain's start),
    meets a record ``valid`` rejects, or has taken MAX_STEPS steps.  Returns the positions
    chain by chain (each in walk order), where each chain's positions begin (and the
    end), and per chain how it ended (``state``) and where (``last``).

    The loop only advances (``walker.advance``): every chain keeps stepping, also past its
    limit or a bad record (reads are clamped, so a bad record's garbage next position is
    harmless), and the records are checked (``walker.valid``) CHECK steps at a time: few
    NumPy calls per step, which is what a step costs.  When only a few chains are still
    going, they are left UNFINISHED for the plain loop: a long tail of steps for a handful
    of chains costs more than walking their last records one by one."""
    k = len(starts)
    rows: list[np.ndarray] = []       # positions at step s (all chains)
    oks: list[np.ndarray] = []        # whether the record there is whole and plausible
    going = np.ones(k, dtype=bool)    # no bad record yet and not at the limit
    few = k >> 6
    pos = starts
    while len(rows) < MAX_STEPS:
        at = len(rows)
        for _ in range(min(CHECK, MAX_STEPS - at)):
            rows.append(pos)
            pos = walker.advance(pos)
        block = np.stack(rows[at:] + [pos])
        ok = walker.valid(block[:-1], block[1:])
        oks.append(ok)
        going &= ok.all(axis=0) & (pos < limits)
        if np.count_nonzero(going) <= few:
            break
    steps = len(rows)
    p = np.stack(rows + [pos])                                # (steps + 1, k)
    # stop[s]: the chain does not take the record at step s (at or past its limit, or bad);
    # after the last step a chain stops anyway (UNFINISHED unless it reached its limit).
    stop = np.empty((steps + 1, k), dtype=bool)
    np.greater_equal(p, limits, out=stop)
    stop[:-1] |= ~np.concatenate(oks)
    stop[-1] = True
    taken = stop.argmax(axis=0)                               # records each chain took
    last = p[taken, np.arange(k)]
    state = np.where(last >= limits, REACHED, np.where(taken < steps, STUCK, UNFINISHED)).astype(np.int8)
    bounds = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(taken, out=bounds[1:])
    # chain by chain: the transposed positions, each chain's first ``taken`` of them
    positions = p[:-1].T[np.arange(steps) < taken[:, None]]
    return positions, bounds, last, state


def _checked(walker, starts, limits, positions, bounds, last, state):
    """Keep the chains that continue each other; walk the rest again one by one."""
    n = len(starts)
    # joins[k]: chain k ended exactly where chain k+1 starts (runs of these are taken whole)
    joins = np.zeros(n, dtype=bool)
    joins[:-1] = (state[:-1] == REACHED) & (last[:-1] == starts[1:])
    breaks = np.flatnonzero(~joins)
    pieces = []
    expected = int(starts[0])
    k = 0
    while k < n:
        if expected == starts[k]:
            j = int(breaks[np.searchsorted(breaks, k)])
            pieces.append(positions[bounds[k]:bounds[j + 1]])
        else:
            # The walk so far did not land on this chain's guessed start: keep the chain
            # from where the two meet, if they do; otherwise walk the segment one by one.
            j = k
            mine = positions[bounds[k]:bounds[k + 1]]
            i = int(np.searchsorted(mine, expected))
            if i == len(mine) or mine[i] != expected:
                more, stop, stuck = walk1(walker, expected, int(limits[k]))
                pieces.append(np.asarray(more, dtype=np.int64))
                if stuck:
                    return _joined(pieces), stop
                expected = stop
                k += 1
                continue
            pieces.append(mine[i:])
        # chain j is the last of the run: how did it end?
        if state[j] == STUCK:
            return _joined(pieces), int(last[j])
        if state[j] == UNFINISHED:
            more, stop, stuck = walk1(walker, int(last[j]), int(limits[j]))
            pieces.append(np.asarray(more, dtype=np.int64))
            if stuck:
                return _joined(pieces), stop
            expected = stop
        else:
            expected = int(last[j])
        k = j + 1
    return _joined(pieces), expected


def _joined(pieces) -> np.ndarray:
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return np.empty(0, np.int64)
    return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]


def walk1(walker, pos: int, limit: int) -> tuple[list[int], int, bool]:
    """The plain loop: record starts from ``pos`` until one at or past ``limit``; returns
    them, where it stopped, and whether it stopped at a rejected record (stuck)."""
    out: list[int] = []
    append, step1 = out.append, walker.step1
    while pos < limit:
        nxt = step1(pos)
        if nxt < 0:
            return out, pos, True
        append(pos)
        pos = nxt
    return out, pos, False
