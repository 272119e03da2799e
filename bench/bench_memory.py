#!/usr/bin/env python3
"""Memory check: does read_packets' peak RSS grow with the rows kept, not with the file size?

Generates four captures under /tmp (deleted afterwards unless --keep):

  ipsec-small  --small-packets of the IPsec mix (default a quarter of --packets)
  ipsec-big    --packets of the IPsec mix (default 4M packets, about 2.5 GB)
  plain-small  the plain mix (about 2 % IPsec) with as many bytes as ipsec-small
  plain-big    the plain mix with as many bytes as ipsec-big

and reads each --repeat times (default 3), every time in its own child process pinned to
one CPU (see bench_reader.py), taking ru_maxrss of the child (peak RSS), the RSS after
imports (base) and the size of the returned DataFrame.  The worst (largest) peak of the
repeats is used: allocator high-water marks vary from run to run.  "Bounded by the rows
kept plus a fixed buffer" is checked as:

  fixed buffer   peak - base on plain-big (many bytes, few rows) <= --fixed-budget-mb
  rows kept      peak - base on each IPsec file <= fixed buffer + --row-factor x DataFrame size

and the marginal cost per extra row (ipsec-small -> ipsec-big) is printed next to the
DataFrame's bytes per row.

Usage:  python bench/bench_memory.py [--packets 4000000] [--json out.json] [--keep]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_reader import resolve_reader, run_python_child, set_src, warm  # noqa: E402
from make_capture import generate  # noqa: E402

MB = 2**20


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=4_000_000, help="packets in the big IPsec file (default 4M)")
    ap.add_argument("--small-packets", type=int, help="packets in the small IPsec file (default packets/4)")
    ap.add_argument("--dir", default="/tmp", help="where to write the captures (default /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the captures")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--cpu", type=int, default=0, help="CPU the readers are pinned to (-1: none)")
    ap.add_argument("--fixed-budget-mb", type=float, default=256.0)
    ap.add_argument("--row-factor", type=float, default=4.0)
    ap.add_argument("--reader", help="MODULE:FUNCTION instead of badspi_pcap.read_packets (harness tests)")
    ap.add_argument("--repeat", type=int, default=3, help="reads per file; the worst peak counts (default 3)")
    ap.add_argument("--src", help="source tree to import badspi_pcap from (see bench_reader.py --src)")
    ap.add_argument("--json", dest="json_out")
    a = ap.parse_args(argv)
    small = a.small_packets or max(1, a.packets // 4)
    cpu = None if a.cpu < 0 else a.cpu
    if cpu is not None:
        others = sorted(set(os.sched_getaffinity(0)) - {cpu})
        if others:
            os.sched_setaffinity(0, set(others))

    src_desc = set_src(a.src)
    reader, note = resolve_reader(a.reader)
    if not reader:
        print(f"no reader to measure: {note}", file=sys.stderr)
        return 2
    need = int((a.packets * 2 + small) * 700)     # ~660 bytes per packet on disk, with margin
    free = shutil.disk_usage(a.dir).free
    if free < need * 1.2:
        print(f"{a.dir}: {free / 1e9:.1f} GB free, need about {need / 1e9:.1f} GB", file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="badspi-mem-", dir=a.dir)
    results = []
    try:
        files = []
        p = os.path.join(work, "ipsec-small.pcap")
        files.append(("ipsec-small", p, generate(p, small, a.seed, quiet=True)))
        p = os.path.join(work, "ipsec-big.pcap")
        big = generate(p, a.packets, a.seed, quiet=True)
        files.append(("ipsec-big", p, big))
        # the plain mix has a slightly different mean size: size it from a sample
        sample = os.path.join(work, "sample.pcap")
        s = generate(sample, 20_000, a.seed, mix="plain", quiet=True, sidecar=False)
        os.unlink(sample)
        bpp = (s["bytes"] - 24) / s["packets"]
        for name, like in (("plain-small", files[0][2]), ("plain-big", big)):
            p = os.path.join(work, f"{name}.pcap")
            files.append((name, p, generate(p, int(round((like["bytes"] - 24) / bpp)), a.seed, mix="plain",
                                            quiet=True)))
        for name, path, info in files:
            print(f"generated {name}: {info['packets']:,} packets, {info['bytes'] / MB:,.0f} MiB, "
                  f"{info['relevant']:,} IPsec-relevant ({info['seconds']:.1f} s)", flush=True)

        print(f"reader: {reader} ({note}) from {src_desc}, engine={a.engine}, pinned to CPU {cpu}\n", flush=True)
        for name, path, info in files:
            warm(path)
            print(f"  reading {name} x{max(1, a.repeat)} ...", flush=True)
            runs = []
            for _ in range(max(1, a.repeat)):
                r = run_python_child("reader", ["--path", path, "--engine", a.engine, "--reader", reader], cpu)
                if r.get("error"):
                    print(f"  {name}: ERROR {r['error']}")
                    return 1
                runs.append(r)
            r = max(runs, key=lambda x: x["ru_maxrss_kb"] - x["base_rss_kb"])
            r = dict(r, name=name, bytes=info["bytes"], packets=info["packets"], expected=info["relevant"],
                     extra_runs_mb=[round((x["ru_maxrss_kb"] - x["base_rss_kb"]) / 1024) for x in runs],
                     seconds_runs=[round(x["seconds"], 2) for x in runs])
            results.append(r)
            if not a.keep:
                os.unlink(path)      # keep disk use down as we go
    finally:
        if a.keep:
            print(f"captures kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    hdr = (f"{'file':<12} {'file MiB':>8} {'packets':>10} {'rows':>10} {'frame MiB':>9} {'peak MiB':>8} "
           f"{'base MiB':>8} {'peak-base':>9} {'anon MiB':>8} {'seconds':>8}  peak-base of each run")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        extra = (r["ru_maxrss_kb"] - r["base_rss_kb"]) * 1024
        r["extra_bytes"] = extra
        print(f"{r['name']:<12} {r['bytes'] / MB:>8,.0f} {r['packets']:>10,} {r['rows']:>10,} "
              f"{r['df_bytes'] / MB:>9,.1f} {r['ru_maxrss_kb'] / 1024:>8,.0f} {r['base_rss_kb'] / 1024:>8,.0f} "
              f"{extra / MB:>9,.0f} {r['rss_anon_max_kb'] / 1024:>8,.0f} {r['seconds']:>8.1f}  "
              f"{', '.join(str(x) for x in r['extra_runs_mb'])} MiB")
    print("\nframe MiB = DataFrame.memory_usage(deep=True) of the rows returned; peak = ru_maxrss of the child;")
    print("base = RSS after imports; anon = max RssAnon sampled every 10 ms; each row shows the run with")
    print("the largest peak-base (worst of --repeat).")

    by = {r["name"]: r for r in results}
    fixed = by["plain-big"]["extra_bytes"]
    checks = []
    checks.append((f"fixed buffer: peak-base on plain-big ({by['plain-big']['bytes'] / MB:,.0f} MiB file, "
                   f"{by['plain-big']['rows']:,} rows) <= {a.fixed_budget_mb:,.0f} MiB",
                   fixed <= a.fixed_budget_mb * MB, f"{fixed / MB:,.0f} MiB"))
    for n in ("ipsec-small", "ipsec-big"):
        r = by[n]
        bound = max(fixed, 0) + a.row_factor * r["df_bytes"]
        checks.append((f"rows kept: peak-base on {n} <= fixed buffer + {a.row_factor:g} x DataFrame "
                       f"({bound / MB:,.0f} MiB)", r["extra_bytes"] <= bound, f"{r['extra_bytes'] / MB:,.0f} MiB"))
    s, b = by["ipsec-small"], by["ipsec-big"]
    per_row = per_row_df = None
    if b["rows"] > s["rows"]:
        per_row = (b["extra_bytes"] - s["extra_bytes"]) / (b["rows"] - s["rows"])
        per_row_df = b["df_bytes"] / b["rows"]
        print(f"\nmarginal peak per extra row (ipsec-small -> ipsec-big): {per_row:,.0f} bytes; "
              f"DataFrame: {per_row_df:,.0f} bytes/row")
    flat = by["plain-big"]["extra_bytes"] / max(b["extra_bytes"], 1)
    print(f"plain-big vs ipsec-big (same file size): peak-base {fixed / MB:,.0f} MiB vs "
          f"{b['extra_bytes'] / MB:,.0f} MiB ({100 * flat:.0f} %)")
    ps = by["plain-small"]
    print(f"plain-small -> plain-big (file x{by['plain-big']['bytes'] / ps['bytes']:.1f}, rows "
          f"{ps['rows']:,} -> {by['plain-big']['rows']:,}): peak-base {ps['extra_bytes'] / MB:,.0f} -> "
          f"{fixed / MB:,.0f} MiB")
    print("\nchecks:")
    for name, ok, val in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {val}")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"reader": reader, "reader_note": note, "source": src_desc, "engine": a.engine, "results":
                       [{k: v for k, v in r.items() if k != "stderr"} for r in results],
                       "per_row_bytes": per_row, "df_bytes_per_row": per_row_df,
                       "checks": [{"check": n, "pass": o, "value": v} for n, o, v in checks]}, f, indent=1)
        print(f"\nresults written to {a.json_out}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
