#!/usr/bin/env python3
"""Where the time of one small capture goes in ``badspi batch`` (one worker, in-process).

Runs ``batch.check_capture`` (what each batch worker does per capture: read, analyse,
summarise) over the fixture captures (lab and corpus, all ≤ 1 MB), ``--rounds`` times,
pinned to one CPU, and prints captures per second and the mean milliseconds per capture
in each stage (CPU time of this thread, so other load on the machine counts less):
reading the capture, each correlate step, diagnose, and the batch summary row.  With
``--events LOG`` every capture is checked against that log too.

Usage:  python bench/bench_overhead.py [--rounds 3] [--cpu 0] [--events LOG]
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = [  # (module, function, label); nested stages are counted inside their parents too
    ("badspi_pcap.capture", "read_capture", "read_capture"),
    ("badspi_pcap.analysis", "correlate", "correlate (all)"),
    ("badspi_pcap.analysis", "estimate_clock_offset", "  clock offset"),
    ("badspi_pcap.analysis", "local_addresses", "  local addresses"),
    ("badspi_pcap.analysis", "match_events", "  match events"),
    ("badspi_pcap.analysis", "receivers", "  receivers"),
    ("badspi_pcap.analysis", "diagnose", "diagnose"),
    ("badspi_pcap.analysis", "classify_lines", "  classify lines"),
    ("badspi_pcap.batch", "_summary_row", "batch summary row"),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: none)")
    ap.add_argument("--events", action="append", default=[], help="a gateway log to check every capture against")
    a = ap.parse_args(argv)
    if a.cpu >= 0:
        os.sched_setaffinity(0, {a.cpu})
    import importlib

    from badspi_pcap.archive import CaptureSource
    from badspi_pcap.batch import CheckOptions, check_capture

    spent: Counter = Counter()
    for module, name, label in STAGES:
        mod = importlib.import_module(module)
        real = getattr(mod, name)

        @functools.wraps(real)
        def timed(*args, _real=real, _label=label, **kwargs):
            t = time.thread_time()
            try:
                return _real(*args, **kwargs)
            finally:
                spent[_label] += time.thread_time() - t
        setattr(mod, name, timed)

    pcaps = ROOT / "fixtures" / "pcaps"
    files = [p for d in ("lab", "corpus") for p in sorted((pcaps / d).iterdir())
             if p.suffix in (".pcap", ".pcapng", ".cap") and p.stat().st_size <= 1 << 20]
    sources = [CaptureSource(str(p), str(p), (), p.stat().st_size, None) for p in files]
    options = CheckOptions(events=tuple(a.events))
    for s in sources[:3]:
        check_capture(s, options)          # imports and first calls are not counted
    spent.clear()
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(a.rounds):
        for s in sources:
            r = check_capture(s, options)
            if r.summary["status"] != "ok":
                print(f"{s.address}: {r.summary['status']}: {r.summary.get('error')}", file=sys.stderr)
    n = a.rounds * len(sources)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    size = sum(s.size for s in sources) / len(sources)
    print(f"{len(sources)} captures (mean {size / 1e3:.0f} kB) x {a.rounds} rounds"
          f"{', against ' + ', '.join(a.events) if a.events else ', no logs'}, one worker, CPU {a.cpu}")
    print(f"{n / cpu:,.1f} captures/s by CPU time ({1000 * cpu / n:.1f} ms each); "
          f"{n / wall:,.1f}/s by wall time")
    print(f"\n{'stage':<22} {'ms/capture':>10} {'share':>6}")
    for _, _, label in STAGES:
        ms = 1000 * spent[label] / n
        print(f"{label:<22} {ms:>10.2f} {100 * spent[label] / cpu:>5.0f}%")
    rest = cpu - sum(spent[label] for _, _, label in STAGES if not label.startswith(" "))
    print(f"{'other (analyze glue)':<22} {1000 * rest / n:>10.2f} {100 * rest / cpu:>5.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
