"""``correlation.rate_limited`` jumps from one logged packet to the next by binary search:
it must pick exactly what the packet-by-packet walk it replaced picks, rounding included."""
from __future__ import annotations

import numpy as np

from badspi_pcap.correlation import rate_limited


def walk(times, window):
    """The packet-by-packet walk, kept as the specification."""
    times = np.sort(np.asarray(times, dtype=float))
    logged = np.zeros(len(times), dtype=bool)
    last = -np.inf
    for i, t in enumerate(times):
        if window <= 0 or t - last >= window:
            logged[i] = True
            last = t
    return logged


def test_rate_limited_equals_the_walk():
    rng = np.random.default_rng(7)
    cases = [np.array([]), np.array([5.0]), np.array([1.0, 1.0, 1.0]), np.array([0.1, 0.3, 0.4, 0.7, 1.0]),
             np.array([0.0, 0.1 + 0.2, 0.6, 0.9000000000000001]), np.array([3.0, np.nan, 1.0, 13.0, np.nan]),
             np.array([6.527, 14.827, 14.827000000000002])]   # 14.827 - 6.527 >= 8.3, though 6.527 + 8.3 > 14.827
    cases += [np.round(np.cumsum(rng.exponential(scale, n)), decimals) + 1.7e9
              for scale, n, decimals in ((0.05, 5000, 6), (2.0, 400, 0), (10.0, 300, 1), (0.3, 3000, 3))]
    windows = (0.0, -1.0, 0.3, 1.0, 10.0, 0.1 + 0.2, 8.3)
    picked = 0
    for times in cases:
        for window in windows:
            want = walk(times, window)
            assert (rate_limited(times, window) == want).all(), (times[:8], window)
            picked += int(want.sum())
    assert picked > 1000
