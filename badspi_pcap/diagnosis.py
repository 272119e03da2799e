"""From correlated tables to findings, through the cause table (``causes.CAUSES``).

Each bad-SPI/replay line is first explained on its own: the first cause (in table order,
among those that handle its kind) whose ``explain`` gives a proof owns it.  Then, per
tunnel, each cause judges the lines it owns; its verdict rests on those lines alone,
whatever other causes explain on the same tunnel.  Lines no cause explains are
"unexplained"; lines outside the capture are "not covered".
"""
from __future__ import annotations

import json
from itertools import chain

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .causes import CAUSES, NOT_COVERED, UNEXPLAINED, Claim, Context, Judgement, Thresholds, for_kind
from .causes.base import columns, given
from .causes.selectors import PacketIndex, display_filter
from .correlation import BAD_SPI_KINDS, covered
from .masks import arrow, distinct, distinct_at, kind_in, one_array, present, rows_at
from .notation import seconds, spi_text
from .options import AnalysisOptions
from .vendors import profile

LINE_KINDS = BAD_SPI_KINDS
FINDING_COLUMNS = [f.name for f in schema.FINDINGS]
_TYPED_FACTS = set(FINDING_COLUMNS)


def classify_lines(events: pd.DataFrame, matches: pd.DataFrame, packets: pd.DataFrame, spans, local: set[str],
                   ctx: Context | None = None, **context) -> pd.DataFrame:
    """One row per bad-SPI/replay line (LINES schema, index = event_id): its tunnel,
    whether the capture covers it (``coverage`` says why not), its cause and proof."""
    events = schema.with_event_ids(events)
    if events.empty:     # a capture checked without logs
        return schema.empty(schema.LINES)
    ctx = ctx or Context(events, packets, matches, local, **context)
    bad = events[events["kind"].isin(LINE_KINDS)].copy()
    if "time_device" not in bad:
        bad["time_device"] = bad["time"]
    if bad.empty:
        return schema.empty(schema.LINES)
    bad["tunnel"] = tunnel_keys(bad, local)
    t = seconds(bad["time"])
    in_time = covered(t, spans)
    seen = _seen_by_capture(bad, packets, ctx.packet_index)
    bad["covered"] = in_time & seen
    bad["coverage"] = np.select([in_time & seen, ~in_time], ["covered", "outside the capture's time"],
                                "tunnel not seen in the capture")
    is_covered = bad["covered"].to_numpy(dtype=bool)
    proofs = _explain(_rows(bad, is_covered).drop(columns=["time", "time_local", "time_device"])
                      .assign(t=t[is_covered]), ctx)
    ctx.__dict__["_line_proofs"] = proofs        # diagnose's claims take them as they are (same context)
    found = [proofs.get(e) for e in bad["event_id"].to_numpy(dtype=np.int64).tolist()]
    has = np.array([p is not None for p in found], dtype=bool)
    # the proofs' fields as columns (a Proof is a tuple: one transposition, no attribute per line)
    causes, keys, exact, frames = zip(*(p for p in found if p is not None)) if has.any() else ((), (), (), ())
    bad["cause"] = _filled(np.where(is_covered, UNEXPLAINED, NOT_COVERED).astype(object), has, causes)
    bad["proof"] = _filled(np.full(len(bad), None, dtype=object), has, keys)
    bad["exact"] = _filled(np.zeros(len(bad), dtype=bool), has, [bool(x) for x in exact])
    per_line: list[tuple] = [()] * len(bad)
    for i, f in zip(np.flatnonzero(has).tolist(), frames):
        per_line[i] = f
    bad["frames"] = frame_refs(per_line)
    out = schema.to_frame(schema.from_columns(schema.LINES, {c: bad[c] for c in bad.columns}))
    return out.set_index(out["event_id"].astype("int64").to_numpy()).rename_axis(None)


def _filled(values: np.ndarray, at: np.ndarray, given) -> np.ndarray:
    """``values`` with ``given`` (one per True of ``at``, each kept as one element) put in there."""
    if len(given):
        values[np.flatnonzero(at)] = np.fromiter(given, dtype=values.dtype, count=len(given))
    return values


def frame_refs(frames: list) -> pd.arrays.ArrowExtensionArray:
    """Per line its ((capture, frame), ...) as the LINES ``frames`` column (list of FRAME_REF),
    built from flat lists (no dict per frame)."""
    flat = list(chain.from_iterable(frames))
    offsets = np.zeros(len(frames) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, frames), dtype=np.int32, count=len(frames)), out=offsets[1:])
    captures, numbers = zip(*flat) if flat else ((), ())
    refs = pa.StructArray.from_arrays([pa.array(captures, pa.string()), pa.array(numbers, pa.int64())],
                                      fields=list(schema.FRAME_REF))
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(pa.array(offsets), refs,
                                                                  type=pa.list_(schema.FRAME_REF)))


def _explain(covered: pd.DataFrame, ctx: Context) -> dict:
    """event_id -> the proof of the first cause (in table order, among those of the line's
    kind) that explains the line.  Each cause sees the lines the causes before it left:
    all at once where it has ``explain_many`` (the lines table with ``t``), else one by
    one (as named tuples of plain values)."""
    proofs: dict = {}
    codes, kinds = pd.factorize(covered["kind"].to_numpy(dtype=object))
    order = np.argsort(codes, kind="stable")
    if (order[1:] < order[:-1]).any():      # kinds interleaved: one take puts each kind's lines together
        covered, codes = covered.take(order), codes[order]
    events = covered["event_id"].astype("int64").to_numpy()
    for code, kind in enumerate(kinds):
        start, end = np.searchsorted(codes, [code, code + 1])
        of_kind = np.arange(start, end)
        left, lines, plain = np.arange(len(of_kind)), None, None    # left: positions among of_kind
        for cause in for_kind(kind):
            if not len(left):
                break
            if hasattr(cause, "explain_many"):
                if lines is None or len(lines) != len(left):      # taken again only when some were explained
                    lines = covered.iloc[start:end] if len(left) == len(of_kind) else covered.iloc[of_kind[left]]
                found = cause.explain_many(lines, ctx)
            else:
                if plain is None:       # plain values: fast to iterate
                    plain = pd.DataFrame(columns(covered.iloc[of_kind]), dtype=object)
                found = [cause.explain(line, ctx) for line in plain.iloc[left].itertuples(index=False)]
            unexplained = found.count(None)
            if unexplained == len(found):       # this cause explains none (often): nothing to update
                continue
            proofs.update((e, p) for e, p in zip(events[of_kind[left]].tolist(), found) if p is not None)
            left = left[np.array([p is None for p in found], dtype=bool)] if unexplained else left[:0]
    return proofs


def diagnose(lines: pd.DataFrame, matches: pd.DataFrame, packets: pd.DataFrame, local: set[str],
             clock_offset_s: float, options: AnalysisOptions | None = None, sas: pd.DataFrame | None = None, *,
             events: pd.DataFrame | None = None, thresholds: Thresholds | None = None,
             resolution_s: float = 1.0, ctx: Context | None = None) -> pd.DataFrame:
    """Findings (FINDINGS schema): one row per (tunnel, cause) from the classified lines,
    plus what the capture alone shows; see README "Reading a verdict".  ``sas`` (an SA
    table) tells which SPIs are the device's own outbound ones."""
    ctx = ctx or Context(lines if events is None else events, packets, matches, local, sas, options, thresholds,
                         resolution_s)
    rows = []
    for tunnel, group in _by_tunnel(lines):
        rows.extend(_tunnel_findings(tunnel, group, ctx, clock_offset_s))
    named = {int(s) for s in distinct(lines["spi"])} if len(lines) else set()
    for cause in CAUSES:
        for ident, j in (cause.unclaimed(ctx, named) if hasattr(cause, "unclaimed") else []):
            rows.append(_row(ident, cause.NAME, cause.KINDS[0], j, None, ctx, clock_offset_s))
    if not rows:         # most captures of a batch: the empty table made once
        return schema.empty(schema.FINDINGS)
    return schema.to_frame(schema.from_rows(schema.FINDINGS, rows))


def _by_tunnel(lines: pd.DataFrame):
    """(tunnel, its lines) in tunnel order, as ``groupby("tunnel", sort=True)`` gives them,
    as slices of the table sorted by tunnel (one copy at most, not one per tunnel)."""
    if not len(lines):          # a capture checked without logs
        return
    codes, tunnels = pd.factorize(lines["tunnel"], sort=True)
    order = np.argsort(codes, kind="stable")
    if (order[1:] < order[:-1]).any():       # tunnels interleaved: one take puts each tunnel's lines together
        lines, codes = lines.take(order), codes[order]
    starts, ends = (np.searchsorted(codes, np.arange(len(tunnels)), side=side).tolist() for side in ("left", "right"))
    for tunnel, start, end in zip(tunnels, starts, ends):      # (code -1, no tunnel, comes first: left out)
        yield tunnel, lines.iloc[start:end]       # a slice: no copy


def _rows(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``frame[mask]``; the frame itself when the mask keeps every row (copy-on-write:
    nothing downstream changes it, and a filter copies every column)."""
    return frame if mask.all() else frame[mask]


def _tunnel_findings(tunnel, group, ctx, offset) -> list[dict]:
    tid = group["tunnel_id"].dropna()
    ident = {"tunnel": tunnel, "tunnel_id": int(tid.iloc[0]) if len(tid) else None,
             "peer": _peer(group, ctx.local)}
    covered = group["covered"].to_numpy(dtype=bool)
    cause_of = group["cause"].to_numpy(dtype=object)
    cov = _rows(group, covered)
    of_kinds: dict = {}      # per KINDS: (all lines, covered lines, covered mask, vendor profile), made once
    out = []
    for cause in CAUSES:
        if cause.KINDS not in of_kinds:
            is_kind = group["kind"].isin(cause.KINDS).to_numpy(dtype=bool)
            prof = _profile(_rows(group[["vendor", "source"]], is_kind), ctx) if is_kind.any() else None
            of_kinds[cause.KINDS] = (int(is_kind.sum()), _rows(group, is_kind & covered), is_kind & covered, prof)
        n_kind, cov_k, is_cov_k, prof = of_kinds[cause.KINDS]
        if not n_kind:
            continue
        counts = {"lines": n_kind, "lines_covered": len(cov_k)}
        is_mine = is_cov_k & (cause_of == cause.NAME)
        if is_mine.any():
            claim = _claim(cause.NAME, ident, _rows(group, is_mine), cov_k, prof, ctx=ctx)
            out.append(_row(ident, cause.NAME, cause.KINDS[0], cause.judge(claim, ctx), claim, ctx, offset, counts))
        elif hasattr(cause, "rule_out") and len(cov_k):
            claim = _claim(cause.NAME, ident, cov_k, cov_k, prof, proofs={})
            j = cause.rule_out(claim, ctx)
            if j is not None:
                out.append(_row(ident, cause.NAME, cause.KINDS[0], j, claim, ctx, offset, counts, explained=0))
    is_rest = covered & (cause_of == UNEXPLAINED)
    if is_rest.any():
        rest = _rows(group, is_rest)
        claim = _claim(UNEXPLAINED, ident, rest, cov, _profile(rest, ctx), proofs={})
        out.append(_row(ident, UNEXPLAINED, None, Judgement("inconclusive"), claim, ctx, offset,
                        {"lines": len(group), "lines_covered": len(cov)}, explained=0))
    if not covered.all():
        outside = group[~covered]
        claim = _claim(NOT_COVERED, ident, outside, cov, _profile(outside, ctx), proofs={})
        reasons = [{"reason": r, "lines": int(n)} for r, n in outside["coverage"].value_counts().items()]
        out.append(_row(ident, NOT_COVERED, None, Judgement("not-covered", facts={"not_covered": reasons}), claim,
                        ctx, offset, {"lines": len(group), "lines_covered": len(cov)}, explained=0))
    return out


def frame_tuples(column: pd.Series) -> list[tuple]:
    """The LINES ``frames`` column as ((capture, frame), ...) per line, from its flat
    Arrow values (no dict per frame)."""
    refs = one_array(arrow(column))
    flat = refs.flatten()
    pairs = list(zip(flat.field("capture").to_pylist(), flat.field("frame").to_pylist()))
    ends = np.cumsum(pc.fill_null(pc.list_value_length(refs), 0).to_numpy(zero_copy_only=False)).tolist()
    return [tuple(pairs[a:b]) for a, b in zip([0] + ends[:-1], ends)]


def _claim(cause, ident, lines, cov, prof, proofs=None, ctx: Context | None = None) -> Claim:
    if proofs is None:
        c = columns(lines, ("event_id", "proof", "exact"))
        made = ctx.__dict__.get("_line_proofs", {}) if ctx is not None else {}
        kept = [made.get(e) for e in c["event_id"]]
        if _same_proofs(kept, cause, c["proof"], c["exact"]):
            proofs = dict(zip(c["event_id"], kept))         # the very proofs classify_lines made
        else:
            from .causes import Proof
            proofs = {e: Proof(cause, k, bool(x), fr)
                      for e, k, x, fr in zip(c["event_id"], c["proof"], c["exact"], frame_tuples(lines["frames"]))}
    return Claim(cause, ident["tunnel"], ident["tunnel_id"], ident["peer"], lines, proofs, cov, prof)


def _same_proofs(kept: list, cause: str, keys: list, exact: list) -> bool:
    """Every line has a proof made by classify_lines, of this cause, with the line's key and
    exactness (compared as whole lists: one C loop each, no attribute read per line)."""
    if None in kept:
        return False
    causes, made_keys, made_exact, _ = zip(*kept) if kept else ((), (), (), ())
    return causes.count(cause) == len(causes) and list(made_keys) == keys and [bool(x) for x in made_exact] == exact


def _row(ident, cause, kind, j: Judgement, claim: Claim | None, ctx: Context, offset, counts=None,
         explained=None) -> dict:
    evidence = ctx.select(j.evidence, ["time"])
    lines = claim.lines if claim is not None else None
    spis = j.spis if j.spis is not None else (claim.spis if claim is not None else [])
    facts = {k: v for k, v in j.facts.items() if k in _TYPED_FACTS}
    extra = {k: v for k, v in j.facts.items() if k not in _TYPED_FACTS}
    times = lines["time"] if lines is not None and len(lines) else evidence["time"]
    prof = claim.profile if claim is not None else None
    n = len(lines) if lines is not None else 0
    return {
        **ident, "cause": cause, "kind": kind, "verdict": j.verdict,
        **(counts or {"lines": 0, "lines_covered": 0}),
        "lines_explained": n if explained is None else explained,
        "lines_exact": sum(p.exact for p in claim.proofs.values()) if claim is not None else 0,
        "event_ids": columns(lines, ["event_id"])["event_id"] if lines is not None else [],
        "spis": [int(s) for s in spis],
        "evidence": list(zip(*columns(evidence, ["capture", "frame"]).values())),   # FRAME_REF structs as tuples
        "display_filter": display_filter(j.evidence) or None,
        **facts,
        "vendor": prof.key if prof is not None and prof.key != "unknown" else None,
        "version": ctx.version(prof) if prof is not None else None,
        "first": times.min() if len(times) else None, "last": times.max() if len(times) else None,
        "clock_offset_s": offset,
        "facts": json.dumps(extra, sort_keys=True) if extra else None,
    }


def tunnel_keys(lines: pd.DataFrame, local: set[str]) -> np.ndarray:
    """A tunnel name per line: the tunnel ID where the log gives one, else the peer."""
    names = ("tunnel_id", "spi", "src", "dst", "peer")
    group, first = distinct_rows(lines, names)   # lines of one tunnel repeat the same few values: each named once
    keys = [_tunnel_key(*values, local) for values in zip(*columns(lines[list(names)].iloc[first]).values())]
    return np.array(keys, dtype=object)[group]


def distinct_rows(table: pd.DataFrame, names) -> tuple[np.ndarray, np.ndarray]:
    """Per row the number of its distinct combination of values in columns ``names``
    (missing values equal), and the first row of each combination: Arrow's hashing of
    each column, then NumPy on the small codes."""
    group = np.zeros(len(table), dtype=np.int64)
    for name in names:
        encoded = one_array(pc.dictionary_encode(arrow(table[name]), null_encoding="encode"))
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        group = np.unique(group * len(encoded.dictionary) + codes, return_inverse=True)[1].reshape(-1)
    return group, np.unique(group, return_index=True)[1]


def _tunnel_key(tid, spi, src, dst, peer, local) -> str:
    remote = next((a for a in (peer, src, dst) if given(a) and a not in local), None)
    if given(tid):
        return f"tunnel 0x{int(tid):x}"
    if remote:
        return f"peer {remote}"
    if given(spi):
        return f"SPI {spi_text(spi)}"
    return "unknown tunnel"


def _seen_by_capture(lines: pd.DataFrame, packets: pd.DataFrame, index: PacketIndex) -> np.ndarray:
    """Lines about traffic the capture can see: their SPI occurs in it, or their
    addresses are IPsec/IKE endpoints (or quoted ones) in it.  The quoted SPIs come from
    the index's rows per quoted SPI, which the embedded-ICMP cause reads too."""
    is_icmp = kind_in(packets, "icmp-error")
    top = ~is_icmp & present(packets, "kind")
    spis = index.spis_at(top) | {s for s, at in index.by_spi("inner_spi").items() if is_icmp[at].any()}
    seen = lines["spi"].isin(spis).fillna(False).to_numpy(dtype=bool)
    if seen.all():          # the addresses are asked only about the other lines (often none)
        return seen
    icmp = rows_at(packets, np.flatnonzero(is_icmp), ["inner_src", "inner_dst"])   # few rows
    addrs = distinct_at(packets, "src", top) | distinct_at(packets, "dst", top) | distinct(icmp["inner_src"]) \
        | distinct(icmp["inner_dst"])
    return seen | (lines["src"].isin(addrs) | lines["dst"].isin(addrs)
                   | lines["peer"].isin(addrs)).fillna(False).to_numpy(dtype=bool)


def _peer(group, local) -> str:
    """The remote end: the lines' peer field, else their sender, else their receiver
    (an embedded-ICMP line names the device's own packet, so its receiver is the peer)."""
    for column in ("peer", "src", "dst"):
        counts = {c["values"]: c["counts"] for c in pc.value_counts(arrow(group[column])).to_pylist()
                  if c["values"] is not None and c["values"] not in local}
        if counts:
            return min(counts, key=lambda a: (-counts[a], a))      # the most frequent, then the first by name
    return ""


def _profile(lines: pd.DataFrame, ctx: Context):
    """The vendor profile of the device that wrote these lines.  Kernel (Linux audit)
    lines in a file that also has strongSwan/libreswan lines come from that daemon's host:
    its profile names the commands to use there."""
    vendor = _mode(lines["vendor"])
    if vendor == "linux" and len(ctx.events):
        same = ctx.events[ctx.events["source"].isin(set(lines["source"]))]
        daemon = _mode(same.loc[same["vendor"].isin(["strongswan", "libreswan"]), "vendor"])
        vendor = daemon or vendor
    return profile(vendor)


def _mode(values: pd.Series):
    """The most frequent value, the first in sort order among equals (``mode().iloc[0]``),
    None when there is none: from Arrow's value counts."""
    counts = [c for c in pc.value_counts(arrow(values)).to_pylist() if c["values"] is not None]
    top = max((c["counts"] for c in counts), default=0)
    return min((c["values"] for c in counts if c["counts"] == top), default=None)
