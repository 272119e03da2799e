"""Evidence selectors: one spec gives both the frames of the packets table it selects
and the Wireshark 4.x display filter that selects the same frames, so what the report
prints is what the evidence pcap holds (a test runs tshark on every printed filter).

Wireshark names the quoted packet inside an ICMP error with the same fields as a top
level one (``esp.spi`` matches both), so top-level selectors exclude ICMP explicitly.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..notation import seconds, spi_text, spi_texts
from ..masks import SPARSE_FROM, arrow, kind_in, one_array, positions_by_value, present, rows_at, value_codes
from ..schema import IPSEC_KINDS

# isakmp.exchangetype: IKEv1 Quick Mode 32, IKEv2 CREATE_CHILD_SA 36
PHASE2_EXCHANGE_TYPES = {"QUICK_MODE": 32, "CREATE_CHILD_SA": 36}
NOT_ICMP = "!icmp && !icmpv6"
TIME_MARGIN_S = 5e-7      # half a microsecond: bounds never fall on a packet's own time


@dataclass(frozen=True)
class Selector:
    """``what``: icmp-quoting (ICMP errors quoting ``spis``, or the address ``pair`` when the
    quote stops before the SPI), ipsec-to (top-level ESP/AH on ``spis`` sent to ``dst``),
    ipsec-seq (the same, only the sequence numbers ``seqs``: replay evidence) or
    ike-phase2 (Quick Mode / CREATE_CHILD_SA messages).  ``start``/``end``: epoch
    seconds (inclusive) or None."""

    what: str
    spis: tuple[int, ...] = ()
    seqs: tuple[int, ...] = ()
    dst: str | None = None
    pair: tuple[str, str] | None = None
    start: float | None = None
    end: float | None = None

    @classmethod
    def spanning(cls, what: str, times_s, **kw) -> "Selector":
        """A selector bounded by the first and last of these times (seconds)."""
        t = np.asarray(list(times_s), dtype=float)
        return cls(what, start=float(t.min()) - TIME_MARGIN_S, end=float(t.max()) + TIME_MARGIN_S, **kw)

    # -- the packets table
    def mask(self, packets: pd.DataFrame) -> np.ndarray:
        p = packets
        if self.what == "icmp-quoting":
            m = p["kind"].eq("icmp-error")
            if self.pair:
                m &= p["inner_spi"].isna() & p["inner_src"].eq(self.pair[0]) & p["inner_dst"].eq(self.pair[1]) \
                    & (p["inner_proto"].isin([50, 51]) | p["inner_dport"].eq(4500) | p["inner_sport"].eq(4500))
            else:
                m &= p["inner_spi"].isin(list(self.spis))
        elif self.what in ("ipsec-to", "ipsec-seq"):
            m = p["kind"].isin(IPSEC_KINDS) & p["spi"].isin(list(self.spis))
            if self.dst:
                m &= p["dst"].eq(self.dst)
            if self.what == "ipsec-seq":
                m &= p["seq"].isin(list(self.seqs))
        elif self.what == "ike-phase2":
            m = p["kind"].eq("ike") & p["ike_exchange"].isin(list(PHASE2_EXCHANGE_TYPES))
        else:
            raise ValueError(f"unknown selector {self.what!r}")
        if self.start is not None or self.end is not None:
            t = seconds(p["time"])
            lo = -np.inf if self.start is None else self.start
            hi = np.inf if self.end is None else self.end
            m &= (t >= lo) & (t <= hi)
        return m.fillna(False).to_numpy(dtype=bool)

    @property
    def reads(self) -> tuple[str, ...]:
        """The columns ``mask`` reads (a take each when selecting through the index)."""
        names: tuple[str, ...]
        if self.what == "icmp-quoting":
            names = ("kind", "inner_spi", "inner_src", "inner_dst", "inner_proto", "inner_sport", "inner_dport") \
                if self.pair else ("kind", "inner_spi")
        elif self.what in ("ipsec-to", "ipsec-seq"):
            names = ("kind", "spi") + (("dst",) if self.dst else ()) + (("seq",) if self.what == "ipsec-seq" else ())
        else:
            names = ("kind", "ike_exchange")
        return names + (("time",) if self.start is not None or self.end is not None else ())

    # -- Wireshark
    def display_filter(self) -> str:
        if self.what == "icmp-quoting":
            if self.pair:
                a, b = self.pair
                ip = "ipv6" if ":" in a else "ip"
                # Layer 2 of ip/ipv6 is the quoted header; UDP 4500 (NAT-T) or ESP/AH inside it.
                parts = ["(icmp || icmpv6)", f"{ip}.src#2 == {a}", f"{ip}.dst#2 == {b}",
                         "(udp.port == 4500 || esp || ah)", "!esp.spi && !ah.spi"]
            else:
                parts = ["(icmp || icmpv6)", spi_test(self.spis)]
        elif self.what in ("ipsec-to", "ipsec-seq"):
            parts = [NOT_ICMP, spi_test(self.spis)]
            if self.what == "ipsec-seq":
                parts.append(seq_test(self.seqs))
            if self.dst:
                parts.append(f"{'ipv6' if ':' in self.dst else 'ip'}.dst == {self.dst}")
        elif self.what == "ike-phase2":
            parts = [NOT_ICMP, "isakmp.exchangetype in {" + ", ".join(
                str(v) for v in sorted(PHASE2_EXCHANGE_TYPES.values())) + "}"]
        else:
            raise ValueError(f"unknown selector {self.what!r}")
        if self.start is not None:
            parts.append(f"frame.time_epoch >= {self.start:.7f}")
        if self.end is not None:
            parts.append(f"frame.time_epoch <= {self.end:.7f}")
        return " && ".join(parts)


def spi_test(spis) -> str:
    """``(esp.spi == 0x… || ah.spi == 0x…)``, with a comma-separated set for several SPIs."""
    spis = sorted(int(s) for s in spis)
    if len(spis) == 1:
        value = f"== {spi_text(spis[0])}"
    else:
        value = "in {" + spi_texts(spis) + "}"
    return f"(esp.spi {value} || ah.spi {value})"


def seq_test(seqs) -> str:
    """``(esp.sequence in {…} || ah.sequence in {…})`` (Wireshark 4.x: comma-separated set)."""
    value = "in {" + ", ".join(str(int(s)) for s in sorted(seqs)) + "}"
    return f"(esp.sequence {value} || ah.sequence {value})"


QUOTE_COLUMNS = ("capture", "frame", "time", "kind", "src", "inner_spi", "inner_src", "inner_dst", "icmp_type",
                 "icmp_code", "icmp_mtu")


class PacketIndex:
    """Row positions of the packets table by SPI: top level (``spi``) for the ESP/AH
    selectors, quoted (``inner_spi``) for the ICMP ones; IKE Phase 2 messages; ICMP errors
    whose quote has no SPI.  A selector then looks at its own candidate rows only, so many
    tunnels do not cost a pass over every packet each.  Each part is made on first use (a
    report that selects only ICMP errors never sorts the ESP packets)."""

    def __init__(self, packets: pd.DataFrame):
        self.packets = packets
        self._by_column: dict[str, dict[int, np.ndarray]] = {}

    @cached_property
    def ike(self) -> np.ndarray:
        return np.flatnonzero(kind_in(self.packets, "ike"))

    @cached_property
    def short_quotes(self) -> np.ndarray:
        return np.flatnonzero(kind_in(self.packets, "icmp-error") & ~present(self.packets, "inner_spi"))

    @cached_property
    def spi_codes(self) -> tuple[np.ndarray, list]:
        """Per row the number of its (top-level) SPI among the distinct ones, and those (a
        missing SPI is one of them: None): the SPIs of any rows by a count, and the rows
        grouped by SPI, without hashing the column again."""
        return value_codes(self.packets["spi"])

    def spis_at(self, mask: np.ndarray) -> set[int]:
        """The distinct top-level SPIs of the rows of ``mask``."""
        codes, values = self.spi_codes
        counts = np.bincount(codes[mask], minlength=len(values)).tolist()
        return {v for v, n in zip(values, counts) if n and v is not None}

    @cached_property
    def quotes(self) -> tuple[np.ndarray, pd.DataFrame]:
        """The rows with a quoted SPI (ascending) and their ``QUOTE_COLUMNS``, taken once:
        the ICMP selectors, the embedded-ICMP judge and its capture-only findings all read
        these few rows, and a take from the big table costs far more than from this one."""
        quoted = self.by_spi("inner_spi")
        rows = np.sort(np.concatenate(list(quoted.values()))) if quoted else np.zeros(0, dtype=np.int64)
        table = rows_at(self.packets, rows, [c for c in QUOTE_COLUMNS if c in self.packets])
        return rows, pd.DataFrame({n: _one_chunk(table[n]) for n in table.columns}, index=table.index, copy=False)

    def by_spi(self, column: str) -> dict[int, np.ndarray]:
        """SPI -> the rows with it in ``column`` (ascending)."""
        if column not in self._by_column:
            values = arrow(self.packets[column])
            if values.null_count == len(values):         # most small captures quote nothing (a count Arrow keeps)
                self._by_column[column] = {}
                return {}
            rows = np.flatnonzero(present(self.packets, column))
            if len(self.packets) >= SPARSE_FROM and len(rows) * 8 < len(self.packets):
                # few rows of a big table have one (quoted SPIs): hash only those
                found = positions_by_value(rows_at(self.packets, rows, [column])[column])
                self._by_column[column] = {spi: rows[at] for spi, at in found.items()}
            else:
                self._by_column[column] = positions_by_value(self.packets[column])
        return self._by_column[column]

    def candidates(self, selector: Selector) -> np.ndarray:
        if selector.what == "ike-phase2":
            return self.ike
        if selector.what == "icmp-quoting" and selector.pair:
            return self.short_quotes
        by_spi = self.by_spi("inner_spi" if selector.what == "icmp-quoting" else "spi")
        spis = dict.fromkeys(int(s) for s in selector.spis)       # distinct SPIs: rows that do not overlap
        parts = [self._narrow(x, selector) for x in (by_spi.get(s) for s in spis) if x is not None]
        return np.sort(np.concatenate(parts)) if parts else np.array([], dtype=int)

    def _narrow(self, rows: np.ndarray, selector: Selector) -> np.ndarray:
        """Of these rows, those inside the selector's time span (and with one of its sequence
        numbers): a necessary part of ``Selector.mask``, cheap on big SPIs."""
        if selector.start is not None or selector.end is not None:
            t = seconds(rows_at(self.packets, rows, ["time"])["time"])
            lo = -np.inf if selector.start is None else selector.start
            hi = np.inf if selector.end is None else selector.end
            rows = rows[(t >= lo) & (t <= hi)]
        if selector.what == "ipsec-seq":
            seq = rows_at(self.packets, rows, ["seq"])["seq"].to_numpy(dtype=float, na_value=np.nan)
            rows = rows[np.isin(seq, np.array(selector.seqs, dtype=float))]
        return rows


def _one_chunk(column: pd.Series):
    """An Arrow-backed column in one chunk (a small table's: one take per column later)."""
    if not isinstance(column.dtype, pd.ArrowDtype):
        return column.array
    return pd.arrays.ArrowExtensionArray(one_array(arrow(column)))


def select(packets: pd.DataFrame, selectors, index: PacketIndex | None = None, names=None) -> pd.DataFrame:
    """The packets any of the selectors selects, in capture/frame order (``index``: look
    only at each selector's candidate rows; ``names``: only these columns, with the index)."""
    if not selectors or packets.empty:
        return packets.iloc[:0]
    if index is None:
        mask = np.zeros(len(packets), dtype=bool)
        for s in selectors:
            mask |= s.mask(packets)
        return packets[mask].sort_values(["capture", "frame"])
    names = list(packets.columns) if names is None else list(dict.fromkeys(["capture", "frame", *names]))
    if len(selectors) == 1:       # most: one take of what it tests and what is asked, then the few rows it drops
        s = selectors[0]
        rows = index.candidates(s)
        wanted = list(dict.fromkeys([*names, *(c for c in s.reads if c in packets)]))
        if s.what == "icmp-quoting" and not s.pair and set(wanted) <= set(QUOTE_COLUMNS):
            quoted, table = index.quotes             # its candidates are quoting rows: taken from those
            sub = rows_at(table, np.searchsorted(quoted, rows), wanted)
        else:
            sub = rows_at(packets, rows, wanted)
        keep = s.mask(sub) if len(rows) else np.zeros(0, dtype=bool)
        found = (sub if keep.all() else sub[keep])[names]
        return found if _in_frame_order(found) else found.sort_values(["capture", "frame"])
    chosen = []
    for s in selectors:
        rows = index.candidates(s)
        if len(rows):
            sub = rows_at(packets, rows, [c for c in s.reads if c in packets])   # only what it tests: a take each
            chosen.append(rows[s.mask(sub)])
    rows = np.unique(np.concatenate(chosen)) if chosen else np.array([], dtype=int)
    found = rows_at(packets, rows, names)
    return found if _in_frame_order(found) else found.sort_values(["capture", "frame"])


def _in_frame_order(rows: pd.DataFrame) -> bool:
    """Rows of one capture with rising frame numbers (most selections: the packets table
    keeps each capture in frame order), which sorting would leave as they are."""
    if len(rows) < 2:
        return True
    frames = rows["frame"].to_numpy(dtype=np.int64, na_value=-1)
    capture = rows["capture"]
    return bool((frames[1:] > frames[:-1]).all() and (frames >= 0).all()) and capture.nunique(dropna=False) == 1


def display_filter(selectors) -> str:
    """One filter for the union of the selectors ('' for none)."""
    parts = [s.display_filter() for s in selectors]
    if len(parts) == 1:
        return parts[0]
    return " || ".join(f"({p})" for p in parts)
