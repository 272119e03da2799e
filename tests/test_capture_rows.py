"""The string columns of the packets table, built from codes without a per-row Python loop:
against the plain per-row construction."""
import numpy as np
import pyarrow as pa
import pytest

from badspi_pcap.capture.rows import _factorize_bytes, _hex, _scatter_strings

NAMES = ["esp", "", "10.0.0.1", "fe80::1", "icmp-error"]


def plain(n, at, codes, names):
    values = [None] * n
    for row, code in zip(at.tolist(), codes.tolist()):
        values[row] = names[code]
    return pa.array(values, type=pa.string())


@pytest.mark.parametrize("n,k", [(1000, 3), (1000, 240), (1000, 600), (1000, 1000), (7, 1), (50, 0)])
@pytest.mark.parametrize("shuffled", [False, True])
def test_scattered_strings_are_the_names_at_their_rows_and_null_elsewhere(n, k, shuffled):
    rng = np.random.default_rng(n + k)
    at = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    if shuffled:   # address columns put the IPv4 rows before the IPv6 ones
        at = rng.permutation(at)
    codes = rng.integers(0, len(NAMES), size=k).astype(np.int32)
    got = _scatter_strings(n, at, NAMES, codes)
    got.validate(full=True)
    assert got.equals(plain(n, at, codes, NAMES))
    assert got.null_count == n - k


@pytest.mark.parametrize("width", [8, 16])
def test_factorized_bytes_give_back_every_row(width):
    rng = np.random.default_rng(width)
    distinct = rng.integers(0, 256, size=(5, width), dtype=np.uint8)
    distinct[1, :width // 2] = distinct[0, :width // 2]    # rows that share one half
    distinct[2, width // 2:] = distinct[0, width // 2:]
    raw = distinct[rng.integers(0, 5, size=300)]
    codes, uniq = _factorize_bytes(raw)
    assert len(uniq) == len({r.tobytes() for r in raw})
    assert [uniq[c] for c in codes] == [r.tobytes() for r in raw]


def test_ike_spis_as_hex():
    raw = np.array([[0, 1, 2, 3, 4, 5, 6, 0xAB], [0xFF] * 8, [0, 1, 2, 3, 4, 5, 6, 0xAB]], dtype=np.uint8)
    got = _hex(5, (np.array([4, 0, 2]), raw))
    assert got.to_pylist() == ["ffffffffffffffff", None, "00010203040506ab", None, "00010203040506ab"]
