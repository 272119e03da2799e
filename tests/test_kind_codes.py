"""Lookups kept for a big packets table (issue 14): ``masks.kind_in`` keeps each big
column's kind codes, ``frame_positions`` searches rising frame numbers, and the reference
index keeps its sorted (SPI, SEQ) answers.  Each must give what the plain scan gives, and
never an answer kept for another table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from conftest import PCAPS

from badspi_pcap import read_packets
from badspi_pcap.masks import SPARSE_FROM, frame_positions, kind_in, value_in
from badspi_pcap.references import reference_index, spi_seq


def _big(name: str = "icmp-net-unreach.pcap") -> pd.DataFrame:
    """A real capture repeated past SPARSE_FROM rows, frames renumbered to rise."""
    small = read_packets(PCAPS / "lab" / name)
    big = pd.concat([small] * (SPARSE_FROM // len(small) + 1), ignore_index=True)
    return big.assign(frame=pd.array(np.arange(1, len(big) + 1), dtype=big["frame"].dtype))


def _with_kinds(table: pd.DataFrame, kinds) -> pd.DataFrame:
    return table.assign(kind=pd.array(list(kinds), dtype=table["kind"].dtype))


def test_kind_in_on_a_big_table_equals_the_scan_and_follows_each_table():
    big = _big()
    assert len(big) >= SPARSE_FROM and big["kind"].nunique() > 1
    asks = (["esp", "ah"], "icmp-error", ["ike", "esp"], [], ["no-such-kind"])
    for kinds in asks:
        want = value_in(big, "kind", [kinds] if isinstance(kinds, str) else kinds)
        assert (kind_in(big, kinds) == want).all()
    # Another table with other kinds (and a missing one), asked after the first: its own answer.
    kinds = big["kind"].astype(object).to_numpy()
    other = _with_kinds(big, np.where(kinds == "esp", "ah", kinds))
    other.loc[3, "kind"] = None
    for table in (other, big, other.iloc[7:], big.iloc[5:]):      # slices share memory at an offset
        for kinds in asks:
            want = table["kind"].isin([kinds] if isinstance(kinds, str) else kinds).fillna(False).to_numpy(bool)
            assert (kind_in(table, kinds) == want).all()
    assert not kind_in(other, ["esp"]).any() and not kind_in(other, "ah")[3]


def test_frame_positions_on_a_big_table_by_search_and_by_hashing():
    rising = _big()
    assert rising["frame"].is_monotonic_increasing
    repeated = pd.concat([rising.iloc[:40000].assign(capture="a.pcap"), rising.iloc[:40000].assign(capture="b.pcap")],
                         ignore_index=True)          # frames start again: not rising
    for packets in (rising, repeated):
        frames = packets["frame"].to_numpy()
        keys = {(c, int(f)) for c, f in zip(packets["capture"].iloc[::997], frames[::997])}
        keys |= {("a.pcap", 0), ("a.pcap", int(frames.max()) + 5), ("elsewhere.pcap", int(frames[10]))}
        want = {(c, int(f)): i for i, (c, f) in enumerate(zip(packets["capture"], frames)) if (c, int(f)) in keys}
        assert len(want) > 10
        assert frame_positions(packets, keys) == want


def test_reference_index_answers_each_set_of_pairs_on_its_own():
    packets = read_packets(PCAPS / "lab" / "icmp-net-unreach.pcap")
    refs = reference_index(packets)
    codes = spi_seq(refs.spi[refs.has_seq], refs.seq[refs.has_seq])
    assert len(np.unique(codes)) > 2

    def plain(wanted):           # every reference with a wanted pair, by (pair, time)
        r = np.flatnonzero(refs.has_seq)
        code = spi_seq(refs.spi[r], refs.seq[r])
        r, code = r[np.isin(code, wanted)], code[np.isin(code, wanted)]
        order = np.lexsort((refs.ns[r], code))
        return r[order], code[order]

    first, rest = codes[:1], np.unique(codes)[1:]
    spi = int(refs.spi[refs.has_seq][0])
    big = np.concatenate([rest, spi_seq([spi], [1 << 30])])      # a sequence number too big for a table
    for wanted in (first, rest, first, big, np.array([], dtype=np.uint64), spi_seq([spi], [0])):
        at, code = refs.with_spi_seq(wanted)
        want = plain(wanted)
        assert (at == want[0]).all() and (code == want[1]).all()
    assert len(refs.with_spi_seq(first)[0]) and len(refs.with_spi_seq(big)[0]) == len(plain(rest)[0])


def test_kind_in_reads_a_plain_object_column_too():
    big = _big()
    plain = big.assign(kind=big["kind"].astype(object))
    assert (kind_in(plain, "esp") == value_in(big, "kind", ["esp"])).all()
    assert pa.types.is_string(pa.array(plain["kind"]).type) or pa.types.is_large_string(pa.array(plain["kind"]).type)


def test_kind_in_on_a_dictionary_typed_column_answers_from_its_values():
    """Two dictionary columns can share their codes' memory and differ in their values: such
    a column is asked directly, never through kept codes."""
    big = _big()
    kinds = pa.array(big["kind"].astype(object).to_numpy()).dictionary_encode()
    renamed = pa.DictionaryArray.from_arrays(kinds.indices, pa.array(["x-" + k for k in kinds.dictionary.to_pylist()]))
    for values in (kinds, renamed, kinds):
        table = big.assign(kind=pd.arrays.ArrowExtensionArray(pa.chunked_array([values])))
        want = np.isin(values.dictionary.to_numpy(zero_copy_only=False)[values.indices.to_numpy()], ["esp"])
        assert (kind_in(table, "esp") == want).all()
    assert kind_in(big.assign(kind=pd.arrays.ArrowExtensionArray(pa.chunked_array([kinds]))), "esp").any()
