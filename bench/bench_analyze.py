#!/usr/bin/env python3
"""``badspi analyze`` on a big capture and a long log: time and peak memory against the read.

Generates (or reuses) the 1M-packet capture of ``make_capture.py`` and a ScreenOS syslog of
``--lines`` lines made from it: BAD SPI lines (message 00026) for the ICMP errors that quote
ESP (their quoted SPI and sequence number, 37 s later on the device's clock, at most one per
tunnel and second), Phase 2 "Completed negotiations" lines (00536) for every SPI seen,
and replay lines (00042) for ESP packets until the count is reached.  Then, each in its own
child process pinned to one CPU: ``read_packets(capture)``, ``analyze(capture, [log])``
(the library call), and the whole command ``badspi analyze CAPTURE -e LOG --format json``.
Prints seconds, CPU seconds, peak RSS (ru_maxrss) and analyze's time over the read's
(``--repeat N``: best of N).

The package's bytecode is compiled first, as ``pip install`` does: ``analyze`` imports the
log parsers when it first needs them, and where nothing writes ``__pycache__`` (an editable
install with PYTHONDONTWRITEBYTECODE set) each child would compile them from source inside
the timed call.  ``--from-source`` skips that step.

Usage:  python bench/bench_analyze.py [--packets 1000000] [--lines 12000] [--cpu 0] [--keep] [--repeat 3]
                                      [--capture /work/benchdata/bench-1M.pcap] [--out-dir /tmp/x]
                                      [--from-source]
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def make_log(capture: str, path: str, lines: int) -> int:
    import pandas as pd

    sys.path.insert(0, REPO)
    from badspi_pcap import read_packets

    p = read_packets(capture)
    offset = pd.Timedelta(seconds=37)
    out = []

    def stamp(t):
        return t + offset

    def syslog(t, body):
        t = stamp(t)
        return (f"{t:%b %d %H:%M:%S} gw1 gw1: NetScreen device_id=gw1  [Root]{body} "
                f"({t:%Y-%m-%d %H:%M:%S})")

    icmp = p[(p["kind"] == "icmp-error") & p["inner_spi"].notna() & (p["inner_proto"] == 50)]
    icmp = icmp.assign(sec=icmp["time"].dt.floor("s")).drop_duplicates(["inner_spi", "sec"])
    for t, src, dst, spi, seq in zip(icmp["time"], icmp["inner_src"], icmp["inner_dst"], icmp["inner_spi"],
                                     icmp["inner_seq"]):
        if len(out) >= lines * 2 // 3:
            break
        seq_text = f"0x{int(seq):x}" if pd.notna(seq) else "0x0"
        out.append(syslog(t, f"system-alert-00026: IPSec tunnel on interface ethernet0/2 with tunnel ID 0x9a "
                             f"received a packet with a bad SPI. {src}->{dst}/96, ESP, SPI 0x{int(spi):08x}, "
                             f"SEQ {seq_text}."))
    esp = p[p["kind"] == "esp"]
    first = esp.drop_duplicates("spi")
    for t, peer, spi in zip(first["time"], first["src"], first["spi"]):
        out.append(syslog(t, f"system-information-00536: IKE {peer} Phase 2 msg ID 0000abcd: Completed "
                             f"negotiations with SPI {int(spi):08x}, tunnel ID 103, and lifetime 3600 seconds/0 KB."))
    step = max(1, len(esp) // max(1, lines - len(out)))
    for t, src, dst, spi, seq in zip(esp["time"][::step], esp["src"][::step], esp["dst"][::step],
                                     esp["spi"][::step], esp["seq"][::step]):
        if len(out) >= lines:
            break
        out.append(syslog(t, f"system-critical-00042: Replay packet detected on IPSec tunnel on ethernet0/4 with "
                             f"tunnel ID 0x67! From {src} to {dst}/128, ESP, SPI 0x{int(spi):08x}, "
                             f"SEQ 0x{int(seq):x}."))
    out.sort(key=lambda line: line[line.rindex("("):])
    with open(path, "w") as f:
        f.write("\n".join(out[:lines]) + "\n")
    return min(len(out), lines)


CHILD = r'''
import json, resource, sys, time
sys.path.insert(0, REPO)
import numpy, pandas, pyarrow
pyarrow.set_cpu_count(1); pyarrow.set_io_thread_count(1)
mode, capture, log = sys.argv[1:4]
if mode == "read":
    from badspi_pcap import read_packets
    c = time.process_time(); t = time.perf_counter(); n = len(read_packets(capture)); s = time.perf_counter() - t
else:
    from badspi_pcap import analyze
    c = time.process_time(); t = time.perf_counter(); a = analyze([capture], [log]); s = time.perf_counter() - t
    n = len(a.events)
print(json.dumps({"seconds": s, "cpu": time.process_time() - c, "rows": n,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
'''.replace("REPO", repr(REPO))


def child(mode: str, capture: str, log: str, cpu) -> dict:
    env = dict(os.environ, **THREADS)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-c", CHILD, mode, capture, log], capture_output=True, text=True, env=env,
                       preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None)
    if p.returncode:
        raise SystemExit(f"{mode} failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=12_000)
    ap.add_argument("--cpu", type=int, default=0, help="CPU for the children (-1: none)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out-dir", default=os.path.join(HERE, "out"))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--capture", help="an existing capture to use (e.g. /work/benchdata/bench-1M.pcap)")
    ap.add_argument("--from-source", action="store_true",
                    help="do not compile the package's bytecode first (see the module's docstring)")
    a = ap.parse_args(argv)
    if not a.from_source:
        compileall.compile_dir(os.path.join(REPO, "badspi_pcap"), quiet=1)
    cpu = None if a.cpu < 0 else a.cpu
    sys.path.insert(0, HERE)
    from make_capture import generate
    os.makedirs(a.out_dir, exist_ok=True)
    capture = a.capture or os.path.join(a.out_dir, f"bench-{a.packets}-s1.pcap")
    fresh = not os.path.exists(capture)
    if fresh:
        generate(capture, a.packets, 1, "pcap")
    log = os.path.join(a.out_dir, f"{os.path.basename(capture)}-{a.lines}.log" if a.capture
                       else f"bench-{a.packets}-{a.lines}.log")
    n = make_log(capture, log, a.lines)
    with open(capture, "rb") as f:
        while f.read(16 << 20):
            pass
    print(f"capture {capture} ({os.path.getsize(capture) / 1e6:,.0f} MB), log {log} ({n:,} lines); "
          f"{'modules compiled from source in each child' if a.from_source else 'bytecode compiled first'}")

    def best(mode):
        runs = [child(mode, capture, log, cpu) for _ in range(max(1, a.repeat))]
        return min(runs, key=lambda r: r["seconds"]) | {"rss_kb": max(r["rss_kb"] for r in runs),
                                                         "cpu": min(r["cpu"] for r in runs)}

    read, analysis = best("read"), best("analyze")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "report.json")
        cmd = [sys.executable, "-c", "import sys; from badspi_pcap.cli import main; sys.exit(main())",
               "analyze", capture, "-e", log, "--format", "json", "-o", out]
        t0 = time.perf_counter()
        env = dict(os.environ, **THREADS, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None)
        _, status, ru = os.wait4(p.pid, 0)
        cli_wall = time.perf_counter() - t0
        if status:
            raise SystemExit(f"badspi analyze failed: {p.stderr.read().decode()[-2000:]}")
    mib = 1024
    print(f"\n{'step':<34} {'seconds':>8} {'CPU s':>7} {'peak RSS MiB':>13}")
    print(f"{'read_packets(capture)':<34} {read['seconds']:>8.2f} {read['cpu']:>7.2f} {read['rss_kb'] / mib:>13,.0f}")
    print(f"{'analyze(capture, [log])':<34} {analysis['seconds']:>8.2f} {analysis['cpu']:>7.2f} "
          f"{analysis['rss_kb'] / mib:>13,.0f}")
    cli_cpu = ru.ru_utime + ru.ru_stime
    print(f"{'badspi analyze ... (whole command)':<34} {cli_wall:>8.2f} {cli_cpu:>7.2f} {ru.ru_maxrss / mib:>13,.0f}")
    print(f"\nanalyze / read: x{analysis['seconds'] / read['seconds']:.2f} by wall time, "
          f"x{analysis['cpu'] / read['cpu']:.2f} by CPU time (target: at most x2; CPU time is the steadier "
          f"on a shared machine); events parsed {analysis['rows']:,}")
    print(f"peak memory of the whole command: {ru.ru_maxrss / mib:,.0f} MiB = {ru.ru_maxrss * 1024 / 1e6:,.0f} MB "
          f"(target: under 400 MB)")
    if fresh and not a.keep:
        os.unlink(capture)
        if os.path.exists(capture + ".json"):
            os.unlink(capture + ".json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
