#!/usr/bin/env python3
"""Reader benchmark: badspi_pcap.read_packets vs tshark field export vs Scapy dissection.

One run: the same generated packets as classic pcap and as pcapng (make_capture.py;
--capture measures one given file instead), page cache warmed first; then the
multi-core row (read_packets(jobs=N) on a ~2 GB capture of each format, one pinned
process against N processes on all CPUs); at the end a Markdown table ready for the
README's Performance section.  Every measurement runs in its own child process pinned to one CPU
(``--cpu``, default 0) with OMP/OpenBLAS/MKL/Arrow threads set to 1, so the peak RSS of
each tool (``ru_maxrss`` of that child, from wait4) is its own.  The parent pins itself
to another CPU when there is one and samples the child's /proc status (RssAnon/RssFile)
every 10 ms.

Rows:
  ours/auto    read_packets(path)                (own record walk for classic pcap)
  ours/scapy   read_packets(path, engine="scapy") (Scapy RawPcapReader + same decoding)
  tshark       tshark -n -r FILE -o ip.defragment:FALSE -Y FILTER -T fields ... > /dev/null
  scapy        PcapReader dissection loop over the first --scapy-packets packets (a rate
               over a prefix of the file, not the whole file)

Usage:
  python bench/bench_reader.py --keep --repeat 3      # 1M packets in both formats + the multi-core row
  python bench/bench_reader.py --multicore-packets 0  # without the multi-core row
  python bench/bench_reader.py --multicore-only --repeat 3 --out-dir /tmp/big   # only the multi-core row
  python bench/bench_reader.py --capture FILE.pcap    # reuse a capture
  python bench/bench_reader.py --packets 200000 --json out.json
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SRC = {"dir": REPO}        # the source tree whose badspi_pcap is measured (--src)

TSHARK_FIELDS = [
    "frame.number", "frame.time_epoch", "frame.len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "udp.srcport", "udp.dstport", "esp.spi", "esp.sequence", "ah.spi", "ah.sequence",
    "isakmp.ispi", "isakmp.rspi", "isakmp.exchangetype", "isakmp.messageid",
    "icmp.type", "icmp.code", "icmp.mtu", "icmpv6.type", "icmpv6.code", "icmpv6.mtu", "vlan.id",
]
# Wireshark 4.x wants commas between set members
TSHARK_FILTER = "esp || ah || isakmp || udpencap || icmp.type in {3, 11, 12} || icmpv6.type in {1, 2, 3, 4}"

TARGET_TSHARK = 5.0      # must be at least this many times faster than tshark field export
AIM_TSHARK = 20.0        # aim
TARGET_SCAPY = 100.0     # must be at least this many times faster than Scapy dissection

THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "POLARS_MAX_THREADS")}

# generator kinds -> the reader's ``kind`` column
KIND_MAP = {
    "esp4": "esp", "esp4-options": "esp", "esp4-frag-first": "esp", "esp6": "esp",
    "ah4": "ah", "ah6": "ah", "esp-in-udp": "esp-in-udp", "nat-keepalive": "nat-keepalive",
    "ike-4500": "ike", "ikev1-500": "ike", "ikev2-500": "ike",
    "icmp4-error": "icmp-error", "icmp6-error": "icmp-error",
}


# =========================================================================== children

def child_reader(a) -> dict:
    """Run inside the child: time one read_packets call."""
    import resource
    t0 = time.perf_counter()
    import numpy as np
    import pandas  # noqa: F401  (imports are not part of the timed call)
    import pyarrow
    pyarrow.set_cpu_count(1)
    pyarrow.set_io_thread_count(1)
    mod, _, fn = a.reader.partition(":")
    module = importlib.import_module(mod)
    read = getattr(module, fn)
    import_s = time.perf_counter() - t0
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t1, c1 = time.perf_counter(), time.process_time()
    df = read(a.path, engine=a.engine, **({"jobs": a.jobs} if a.jobs else {}))
    secs, cpu = time.perf_counter() - t1, time.process_time() - c1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN)   # jobs > 1: the workers
    res = {"module_file": getattr(module, "__file__", None), "import_s": import_s, "seconds": secs, "cpu_s": cpu,
           "children_cpu_s": children.ru_utime + children.ru_stime,
           "rows": int(len(df)),
           "base_rss_kb": base, "peak_rss_self_kb": peak}
    try:
        res["df_bytes"] = int(df.memory_usage(deep=True).sum())
    except Exception as e:  # noqa: BLE001
        res["df_bytes"] = None
        res["df_bytes_error"] = repr(e)
    if "kind" in df.columns:
        res["kinds"] = {str(k): int(v) for k, v in df["kind"].value_counts().items()}
    if a.frames_out and "frame" in df.columns:
        np.save(a.frames_out, df["frame"].to_numpy(dtype="int64", na_value=-1))
    return res


def child_scapy(a) -> dict:
    """Run inside the child: plain Scapy PcapReader dissection loop touching the same fields."""
    import resource
    t0 = time.perf_counter()
    import scapy.all  # noqa: F401  (loads the default layers: ipsec, isakmp, inet6, l2)
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.inet6 import IPv6, ICMPv6DestUnreach, ICMPv6PacketTooBig, ICMPv6TimeExceeded, ICMPv6ParamProblem
    from scapy.layers.ipsec import AH, ESP
    from scapy.layers.isakmp import ISAKMP
    from scapy.layers.l2 import Dot1Q, Dot1AD
    from scapy.utils import PcapReader
    import_s = time.perf_counter() - t0
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    icmp6_err = (ICMPv6DestUnreach, ICMPv6PacketTooBig, ICMPv6TimeExceeded, ICMPv6ParamProblem)
    limit = a.limit
    n = sel = 0
    sink = 0
    t1, c1 = time.perf_counter(), time.process_time()
    reader = PcapReader(a.path)
    try:
        for pkt in reader:
            n += 1
            row = [pkt.time, len(pkt)]
            hit = False
            tag = pkt.getlayer(Dot1AD) or pkt.getlayer(Dot1Q)
            row.append(tag.vlan if tag is not None else None)
            ip = pkt.getlayer(IP)
            if ip is not None:
                row += [ip.src, ip.dst]
            ip6 = pkt.getlayer(IPv6)
            if ip6 is not None:
                row += [ip6.src, ip6.dst]
            udp = pkt.getlayer(UDP)
            if udp is not None:
                row += [udp.sport, udp.dport]
                if 4500 in (udp.sport, udp.dport):
                    hit = True
            esp = pkt.getlayer(ESP)
            if esp is not None:
                row += [esp.spi, esp.seq]
                hit = True
            ah = pkt.getlayer(AH)
            if ah is not None:
                row += [ah.spi, ah.seq]
                hit = True
            ike = pkt.getlayer(ISAKMP)
            if ike is not None:
                row += [ike.init_cookie, ike.resp_cookie, ike.exch_type, ike.id]
                hit = True
            icmp = pkt.getlayer(ICMP)
            if icmp is not None:
                row += [icmp.type, icmp.code, icmp.nexthopmtu]
                if icmp.type in (3, 11, 12):
                    hit = True
            for cls in icmp6_err:
                e = pkt.getlayer(cls)
                if e is not None:
                    row += [e.type, e.code, getattr(e, "mtu", None)]
                    hit = True
                    break
            sel += hit
            sink += len(row)
            if n >= limit:
                break
        consumed = reader.f.tell()
    finally:
        reader.close()
    secs, cpu = time.perf_counter() - t1, time.process_time() - c1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"import_s": import_s, "seconds": secs, "cpu_s": cpu, "packets": n, "rows": sel, "bytes": consumed,
            "base_rss_kb": base, "peak_rss_self_kb": peak}


# =========================================================================== parent

class Sampler(threading.Thread):
    """Max RssAnon / RssFile / VmRSS of a process, sampled from /proc every 10 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.stop_flag = pid, threading.Event()
        self.max = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}

    def run(self):
        path = f"/proc/{self.pid}/status"
        while not self.stop_flag.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        k, _, v = line.partition(":")
                        if k in self.max:
                            self.max[k] = max(self.max[k], int(v.split()[0]))
            except (OSError, ValueError, IndexError):
                pass
            self.stop_flag.wait(0.01)


def run_child(cmd: list[str], cpu: int | None, stdout=subprocess.DEVNULL, cpus: set | None = None) -> dict:
    """Start cmd pinned to one CPU; return wall time, ru_maxrss (from wait4) and sampled RSS."""
    env = dict(os.environ, **THREAD_ENV)
    env["PYTHONPATH"] = SRC["dir"] + os.pathsep + env.get("PYTHONPATH", "")

    def pin():
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        elif cpu is not None:
            os.sched_setaffinity(0, {cpu})

    st0 = cpu_times(cpu)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, preexec_fn=pin)
    s = Sampler(p.pid)
    s.start()
    err = []
    et = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
    et.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    st1 = cpu_times(cpu)
    p.returncode = os.waitstatus_to_exitcode(status)
    s.stop_flag.set()
    s.join()
    et.join()
    p.stderr.close()
    return {"wall_s": wall, "returncode": p.returncode, "ru_maxrss_kb": ru.ru_maxrss,
            "process_cpu_s": ru.ru_utime + ru.ru_stime,
            # what else ran on the measured CPU meanwhile (busy time not ours), and hypervisor steal
            "others_share": None if st0 is None else max(0.0, (st1[0] - st0[0]) - (ru.ru_utime + ru.ru_stime)) / wall,
            "steal_share": None if st0 is None else (st1[1] - st0[1]) / wall,
            "rss_anon_max_kb": s.max["RssAnon"], "rss_file_max_kb": s.max["RssFile"],
            "stderr": (err[0] if err else b"").decode("utf-8", "replace")[-4000:]}


def cpu_times(cpu: int | None):
    """(busy seconds, steal seconds) of one CPU from /proc/stat; None when unpinned/unknown."""
    if cpu is None:
        return None
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith(f"cpu{cpu} "):
                    v = [int(x) for x in line.split()[1:]]
                    hz = os.sysconf("SC_CLK_TCK")
                    # user nice system idle iowait irq softirq steal ...
                    busy = v[0] + v[1] + v[2] + v[5] + v[6]
                    return busy / hz, (v[7] if len(v) > 7 else 0) / hz
    except (OSError, ValueError):
        pass
    return None


def run_python_child(mode: str, args: list[str], cpu, cpus: set | None = None) -> dict:
    fd, out = tempfile.mkstemp(prefix="bench-", suffix=".json")
    os.close(fd)
    try:
        r = run_child([sys.executable, os.path.abspath(__file__), "--child", mode, "--result", out] + args, cpu,
                      cpus=cpus)
        try:
            with open(out) as f:
                r.update(json.load(f))
        except (OSError, ValueError):
            r["error"] = r["stderr"].strip().splitlines()[-1] if r["stderr"].strip() else f"exit {r['returncode']}"
        return r
    finally:
        os.unlink(out)


def tshark_cmd(path: str) -> list[str]:
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-Y", TSHARK_FILTER,
           "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    return cmd


def tshark_frames(path: str, cpu) -> list[int]:
    """Frame numbers tshark selects (a separate, untimed pass)."""
    env = dict(os.environ, **THREAD_ENV)
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-Y", TSHARK_FILTER,
           "-T", "fields", "-e", "frame.number"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, check=True,
                         preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None).stdout
    return [int(x) for x in out.split()]


def tshark_version() -> str | None:
    try:
        out = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout
        return out.splitlines()[0] if out else None
    except OSError:
        return None


def count_packets(path: str) -> int | None:
    side = path + ".json"
    if os.path.exists(side):
        try:
            info = json.load(open(side))
            if info.get("bytes") == os.path.getsize(path):
                return int(info["packets"])
        except (OSError, ValueError, KeyError):
            pass
    if shutil.which("capinfos"):
        out = subprocess.run(["capinfos", "-M", "-c", "-T", "-r", path], capture_output=True, text=True).stdout
        try:
            return int(out.strip().split("\t")[-1])
        except ValueError:
            pass
    return None


def warm(path: str) -> float:
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(16 << 20):
            pass
    return time.perf_counter() - t0


def resolve_reader(spec: str | None) -> tuple[str, str]:
    """The callable to measure, and a note on where it came from."""
    if spec:
        return spec, "override (--reader)"
    sys.path.insert(0, SRC["dir"])
    try:
        import badspi_pcap
        if hasattr(badspi_pcap, "read_packets"):
            return "badspi_pcap:read_packets", "public API"
        importlib.import_module("badspi_pcap.capture")
        if hasattr(sys.modules["badspi_pcap.capture"], "read_packets"):
            return "badspi_pcap.capture:read_packets", "badspi_pcap.capture (not yet exported)"
    except ImportError as e:
        return "", f"badspi_pcap not importable: {e}"
    return "", "badspi_pcap has no read_packets yet"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}"


def _n(x) -> str:
    return "-" if x is None else f"{x:,}"


def set_src(path: str | None) -> str:
    """Measure badspi_pcap from this directory; describe what it is (git commit, local changes)."""
    if path:
        SRC["dir"] = os.path.abspath(path)
    d = SRC["dir"]
    desc = d
    try:
        head = subprocess.run(["git", "-C", d, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        if head and subprocess.run(["git", "-C", d, "rev-parse", "--show-toplevel"], capture_output=True,
                                   text=True).stdout.strip() == d:
            dirty = subprocess.run(["git", "-C", d, "status", "--porcelain", "--", "badspi_pcap"],
                                   capture_output=True, text=True).stdout.strip()
            desc += f" (commit {head}{', with uncommitted changes in badspi_pcap/' if dirty else ''})"
    except OSError:
        pass
    return desc


def mb(kb) -> str:
    return "-" if kb in (None, 0) else f"{kb / 1024:,.0f}"


def fmt_rate(x) -> str:
    return "-" if not x else f"{x:,.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="packets to generate (default 1M)")
    ap.add_argument("--capture", help="measure this capture instead of generating one")
    ap.add_argument("--keep", action="store_true", help="keep the generated capture")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "out"), help="where to generate (default bench/out)")
    ap.add_argument("--format", choices=("pcap", "pcapng", "both"), default="both",
                    help="capture format(s) to generate and measure (default both: the same packets in each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", dest="json_out", help="write machine-readable results here")
    ap.add_argument("--scapy-packets", type=int, default=50_000, help="Scapy dissection prefix (default 50k)")
    ap.add_argument("--engines", default="auto,scapy", help="read_packets engines to measure")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measured tool; the fastest counts (default 1)")
    ap.add_argument("--no-tshark", action="store_true")
    ap.add_argument("--no-scapy", action="store_true")
    ap.add_argument("--no-compare", action="store_true", help="skip the untimed tshark pass that lists selected frames")
    ap.add_argument("--cpu", type=int, default=0, help="CPU the measured children are pinned to (-1: no pinning)")
    ap.add_argument("--reader", help="MODULE:FUNCTION to measure instead of badspi_pcap.read_packets (harness tests)")
    ap.add_argument("--src", help="source tree to import badspi_pcap from (default: this repository; e.g. an "
                                  "export of a commit: git archive HEAD badspi_pcap | tar -x -C DIR)")
    # child mode (internal)
    ap.add_argument("--child", choices=("reader", "scapy"), help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--engine", default="auto", help=argparse.SUPPRESS)
    ap.add_argument("--frames-out", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--multicore-packets", type=int, default=3_000_000,
                    help="packets of the capture for the multi-core row (default 3M, about 2 GB; 0: no such row)")
    ap.add_argument("--multicore-jobs", type=int, default=0,
                    help="processes for the multi-core row (default: all CPUs)")
    ap.add_argument("--multicore-only", action="store_true", help="only the multi-core row (no 1M-packet runs)")
    a = ap.parse_args(argv)

    if a.child:
        res = child_reader(a) if a.child == "reader" else child_scapy(a)
        with open(a.result, "w") as f:
            json.dump(res, f)
        return 0

    cpu = None if a.cpu < 0 else a.cpu
    ncpu = os.cpu_count() or 1
    if cpu is not None:
        others = sorted(set(os.sched_getaffinity(0)) - {cpu})
        if others:
            os.sched_setaffinity(0, set(others))   # keep the parent (sampler, bookkeeping) off the measured CPU

    formats = ["pcap", "pcapng"] if a.format == "both" and not a.capture else [a.format]
    if a.capture:
        formats = ["pcapng" if open(a.capture, "rb").read(4) == b"\x0a\x0d\x0d\x0a" else "pcap"]
    if a.multicore_only:
        formats = []
    results = {}
    for fmt in formats:
        print(f"\n======== {fmt} ========", flush=True)
        results[fmt] = measure(a, cpu, ncpu, fmt)
    multi = multicore(a, cpu, ncpu) if a.multicore_packets else None
    print_markdown(results, multi, a)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"formats": {k: v[1] for k, v in results.items()}, "multicore": multi}, f, indent=1, default=str)
        print(f"\nresults written to {a.json_out}")
    multi_failed = bool(multi) and any("error" in row.get(k, {}) for row in multi["formats"].values() for k in row
                                       if k.startswith("jobs"))
    return 0 if all(code == 0 for code, _ in results.values()) and not multi_failed else 1


def measure(a, cpu, ncpu, fmt) -> tuple[int, dict]:
    """One capture of one format: every tool, the report; (exit code, results)."""
    # ---- the capture
    generated = False
    info = None
    if a.capture:
        path = os.path.abspath(a.capture)
        if not os.path.exists(path):
            raise SystemExit(f"{path}: no such file")
        side = path + ".json"
        if os.path.exists(side):
            try:
                info = json.load(open(side))
                if info.get("bytes") != os.path.getsize(path):
                    info = None
            except (OSError, ValueError):
                info = None
    else:
        sys.path.insert(0, HERE)
        from make_capture import generate
        os.makedirs(a.out_dir, exist_ok=True)
        path = os.path.join(a.out_dir, f"bench-{a.packets}-s{a.seed}.{fmt}")
        info = _generated(path, a.packets, a.seed, fmt, generate)
        generated = info.pop("_new")
    size = os.path.getsize(path)
    npk = count_packets(path)
    if npk is None:
        print("cannot count packets (no sidecar .json, no capinfos): rates need it", file=sys.stderr)
        return 2, {}

    src_desc = set_src(a.src)
    reader, reader_note = resolve_reader(a.reader)
    have_tshark = shutil.which("tshark") is not None and not a.no_tshark
    warm_s = warm(path)
    print(f"\ncapture {path}: {npk:,} packets, {size / 1e6:,.1f} MB; page cache warmed "
          f"({size / 1e6 / warm_s:,.0f} MB/s read)")
    print(f"children pinned to CPU {cpu if cpu is not None else '(none)'} of {ncpu}; "
          f"{', '.join(f'{k}=1' for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'))}; "
          f"pyarrow cpu/io threads 1")
    print(f"reader: {reader or '-'} ({reader_note}) from {src_desc}; best of {max(1, a.repeat)} run(s) per tool\n",
          flush=True)

    rows = []   # result dicts
    frames_auto = None
    tmpdir = tempfile.mkdtemp(prefix="bench-reader-")
    try:
        # ---- ours
        for engine in [e.strip() for e in a.engines.split(",") if e.strip()]:
            if not reader:
                rows.append({"tool": f"ours/{engine}", "error": reader_note})
                continue
            best = None
            runs = []
            for _ in range(max(1, a.repeat)):
                fo = os.path.join(tmpdir, f"frames-{engine}.npy")
                print(f"  running ours/{engine} ...", flush=True)
                r = run_python_child("reader", ["--path", path, "--engine", engine, "--reader", reader,
                                                "--frames-out", fo], cpu)
                runs.append(r.get("seconds"))
                if "error" in r or r.get("returncode"):
                    best = r
                    break
                if best is None or r["seconds"] < best["seconds"]:
                    best = r
            best.update(tool=f"ours/{engine}", packets=npk, bytes=size, runs=runs)
            if "error" not in best and not best.get("returncode"):
                fo = os.path.join(tmpdir, f"frames-{engine}.npy")
                if engine == "auto" and os.path.exists(fo):
                    import numpy as np
                    frames_auto = np.load(fo)
            rows.append(best)

        # ---- tshark
        tshark_startup = None
        if have_tshark:
            runs = []
            for _ in range(max(1, a.repeat)):
                print("  running tshark field export ...", flush=True)
                r = run_child(tshark_cmd(path), cpu)
                r.update(tool="tshark", packets=npk, bytes=size, seconds=r["wall_s"], cpu_s=r["process_cpu_s"])
                if r["returncode"]:
                    r["error"] = r["stderr"].strip().splitlines()[-1] if r["stderr"].strip() else "tshark failed"
                    break
                runs.append(r)
            best = r if r.get("error") else min(runs, key=lambda x: x["seconds"])
            best["runs"] = [x["seconds"] for x in runs]
            rows.append(best)
            # startup cost: the same command on a one-packet copy
            one = os.path.join(tmpdir, "one.pcap")
            if shutil.which("editcap") and subprocess.run(["editcap", "-r", path, one, "1"],
                                                           capture_output=True).returncode == 0:
                tshark_startup = run_child(tshark_cmd(one), cpu)["wall_s"]
        else:
            rows.append({"tool": "tshark", "skipped": "tshark not found" if not a.no_tshark else "--no-tshark"})

        # ---- scapy
        if not a.no_scapy:
            runs = []
            for _ in range(max(1, a.repeat)):
                print(f"  running Scapy dissection over the first {a.scapy_packets:,} packets ...", flush=True)
                r = run_python_child("scapy", ["--path", path, "--limit", str(a.scapy_packets)], cpu)
                r.update(tool="scapy")
                if r.get("error"):
                    break
                runs.append(r)
            best = r if r.get("error") else min(runs, key=lambda x: x["seconds"])
            best["runs"] = [x["seconds"] for x in runs]
            rows.append(best)

        tshark_sel = None
        if have_tshark and not a.no_compare:
            print("  listing tshark's selected frames (untimed) ...", flush=True)
            tshark_sel = tshark_frames(path, cpu)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    # ---- report
    for r in rows:
        if r.get("seconds") and r.get("cpu_s") is not None:
            r["cpu_share"] = r["cpu_s"] / r["seconds"]
        if r.get("seconds") and not r.get("error"):
            r["pps"] = r["packets"] / r["seconds"]
            r["mbps"] = r["bytes"] / 1e6 / r["seconds"]
            if r.get("wall_s"):
                r["pps_wall"] = r["packets"] / r["wall_s"]
            if r.get("cpu_s"):
                r["pps_cpu"] = r["packets"] / r["cpu_s"]
    by = {r["tool"]: r for r in rows}
    print()
    hdr = f"{'tool':<12} {'packets':>10} {'seconds':>8} {'packets/s':>11} {'MB/s':>8} {'peak RSS MiB':>12} " \
          f"{'anon MiB':>8} {'base MiB':>8} {'rows':>9}  {'wall s':>7} {'cpu %':>6} {'other %':>7} {'steal %':>7}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r.get("skipped"):
            print(f"{r['tool']:<12} skipped: {r['skipped']}")
            continue
        if r.get("error"):
            print(f"{r['tool']:<12} ERROR: {r['error']}")
            continue
        print(f"{r['tool']:<12} {r['packets']:>10,} {r['seconds']:>8.2f} {fmt_rate(r['pps']):>11} "
              f"{r['mbps']:>8.1f} {mb(r['ru_maxrss_kb']):>12} {mb(r.get('rss_anon_max_kb')):>8} "
              f"{mb(r.get('base_rss_kb')):>8} {_n(r.get('rows')):>9}  "
              f"{r['wall_s']:>7.2f} {_pct(r.get('cpu_share')):>6} {_pct(r.get('others_share')):>7} "
              f"{_pct(r.get('steal_share')):>7}")
    print()
    print("seconds: ours = the read_packets call (imports excluded; 'wall s' is the whole child process);")
    print("         tshark = the whole process (startup included" +
          (f", {tshark_startup:.2f} s on a one-packet file)" if tshark_startup else ")") + ";")
    if "scapy" in by and by["scapy"].get("pps"):
        print(f"         scapy = the dissection loop over the first {by['scapy']['packets']:,} packets only "
              f"(a rate over a prefix, {by['scapy']['bytes'] / 1e6:.1f} MB).")
    print("MB = 10^6 bytes (file, MB/s); MiB = 2^20 bytes (memory).")
    print("peak RSS = ru_maxrss of the child (includes file pages it mapped); anon = max sampled RssAnon;")
    print("base = RSS after imports, before the timed call. rows = rows returned (scapy: packets it selected).")
    print("cpu % = CPU time / 'seconds' of the measured part; other % = busy time of the pinned CPU not spent")
    print("by the child, steal % = hypervisor steal on it, both over the child's wall time (from /proc/stat).")
    busy = [r["tool"] for r in rows if (r.get("cpu_share") is not None and r["cpu_share"] < 0.9)
            or (r.get("others_share") or 0) > 0.1 or (r.get("steal_share") or 0) > 0.1]
    load = os.getloadavg()
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {ncpu} CPUs")
    if busy:
        print(f"WARNING: {', '.join(busy)}: the pinned CPU was shared (cpu % < 90, other % or steal % > 10); "
              f"wall-clock rates are low and ratios unreliable (the 'by CPU time' ratios less so). "
              f"Rerun on an idle machine or with --repeat.")

    ratios = {}
    ours = by.get("ours/auto")
    ok = ours and ours.get("pps")
    print()
    results = []
    if ok and by.get("tshark", {}).get("pps"):
        t = by["tshark"]
        x = ours["pps"] / t["pps"]
        xw = ours["pps_wall"] / t["pps"]
        ratios["ours_vs_tshark"] = x
        ratios["ours_wall_vs_tshark"] = xw
        print(f"ours/auto vs tshark:  x{x:,.1f}  (whole child process incl. Python start and imports: x{xw:,.1f})")
        if ours.get("pps_cpu") and t.get("pps_cpu"):
            ratios["ours_vs_tshark_cpu"] = ours["pps_cpu"] / t["pps_cpu"]
            print(f"                      x{ratios['ours_vs_tshark_cpu']:,.1f} by CPU time "
                  f"(ours {ours['pps_cpu']:,.0f}, tshark {t['pps_cpu']:,.0f} packets per CPU second)")
        results.append(("at least x5 faster than tshark field export", x >= TARGET_TSHARK, f"x{x:,.1f}"))
        results.append(("aim: x20 faster than tshark (about 1M packets/s)", x >= AIM_TSHARK, f"x{x:,.1f}"))
        if by.get("ours/scapy", {}).get("pps"):
            ratios["ours_scapy_engine_vs_tshark"] = by["ours/scapy"]["pps"] / t["pps"]
            print(f"ours/scapy vs tshark: x{ratios['ours_scapy_engine_vs_tshark']:,.1f}")
    elif ok:
        print("ours vs tshark: no tshark row (" + by.get("tshark", {}).get("skipped", "error") + ")")
    if ok and by.get("scapy", {}).get("pps"):
        s = by["scapy"]
        x = ours["pps"] / s["pps"]
        ratios["ours_vs_scapy"] = x
        ratios["ours_wall_vs_scapy"] = ours["pps_wall"] / s["pps"]
        print(f"ours/auto vs scapy:   x{x:,.1f}  (scapy rate over a {s['packets']:,}-packet prefix; "
              f"whole-process ours: x{ratios['ours_wall_vs_scapy']:,.1f})")
        if ours.get("pps_cpu") and s.get("pps_cpu"):
            ratios["ours_vs_scapy_cpu"] = ours["pps_cpu"] / s["pps_cpu"]
            print(f"                      x{ratios['ours_vs_scapy_cpu']:,.1f} by CPU time "
                  f"(scapy {s['pps_cpu']:,.0f} packets per CPU second)")
        results.append(("at least x100 faster than Scapy dissection", x >= TARGET_SCAPY, f"x{x:,.1f}"))
    if ok and ours.get("df_bytes") is not None:
        extra = ours["ru_maxrss_kb"] * 1024 - ours["base_rss_kb"] * 1024
        print(f"ours/auto memory: peak - base = {extra / 2**20:,.0f} MiB for {ours['rows']:,} rows "
              f"(DataFrame {ours['df_bytes'] / 2**20:,.0f} MiB) on a {size / 2**20:,.0f} MiB file; "
              f"bounded-by-rows check: bench/bench_memory.py")

    # sanity: rows
    print()
    if ok:
        line = f"rows: ours/auto {ours['rows']:,}"
        if by.get("ours/scapy", {}).get("rows") is not None:
            line += f", ours/scapy {by['ours/scapy']['rows']:,}"
        if tshark_sel is not None:
            line += f", tshark selected {len(tshark_sel):,}"
        if info and "relevant" in info:
            line += f", generator expects {info['relevant']:,}"
        print(line)
        if tshark_sel is not None and frames_auto is not None:
            a_set, t_set = set(frames_auto.tolist()), set(tshark_sel)
            only_o, only_t = sorted(a_set - t_set), sorted(t_set - a_set)
            ratios["rows_only_ours"] = len(only_o)
            ratios["rows_only_tshark"] = len(only_t)
            print(f"frames only in ours: {len(only_o):,} {only_o[:10]}; only in tshark: {len(only_t):,} {only_t[:10]}")
        if info and ours.get("kinds"):
            want: dict[str, int] = {}
            for k, c in info["kinds"].items():
                if k in KIND_MAP:
                    want[KIND_MAP[k]] = want.get(KIND_MAP[k], 0) + c
            print("rows per kind (ours / generator): " + ", ".join(
                f"{k} {ours['kinds'].get(k, 0):,}/{want.get(k, 0):,}" for k in sorted(set(want) | set(ours["kinds"]))))
    if results:
        print("\ntargets:")
        for name, passed, val in results:
            if name.startswith("aim"):
                print(f"  {'MET ' if passed else 'NOT MET'}  {name}: {val}")
            else:
                print(f"  {'PASS' if passed else 'FAIL'}  {name}: {val}")
    if "ours/auto" in by and by["ours/auto"].get("error"):
        print(f"\nours/auto failed: {by['ours/auto']['error']}")

    if True:
        env = {"python": platform.python_version(), "platform": platform.platform(), "cpus": ncpu,
               "cpu_model": _cpu_model(), "pinned_cpu": cpu, "tshark": tshark_version(), "reader": reader,
               "source": src_desc,
               "reader_note": reader_note, "versions": _versions()}
        out = {"capture": {"path": path, "packets": npk, "bytes": size, "generator": info},
               "env": env, "rows": [{k: v for k, v in r.items() if k != "stderr" or r.get("error")} for r in rows],
               "ratios": ratios, "targets": [{"target": n, "pass": p, "value": v} for n, p, v in results],
               "tshark_startup_s": tshark_startup, "tshark_selected": None if tshark_sel is None else len(tshark_sel),
               "scapy_prefix_packets": a.scapy_packets, "by": by}

    if generated and not a.keep:
        os.unlink(path)
        if os.path.exists(path + ".json"):
            os.unlink(path + ".json")
    elif generated:
        print(f"capture kept: {path}")
    return (0 if ok else 1), out


def _generated(path: str, packets: int, seed: int, fmt: str, generate) -> dict:
    """The generator's description of ``path``, writing the capture unless it is there."""
    side = path + ".json"
    if os.path.exists(path) and os.path.exists(side):
        try:
            info = json.load(open(side))
            if info.get("bytes") == os.path.getsize(path) and info.get("format") == fmt:
                print(f"reusing {path}", flush=True)
                return dict(info, _new=False)
        except (OSError, ValueError):
            pass
    print(f"generating {packets:,} packets ({fmt}) ...", flush=True)
    return dict(generate(path, packets, seed, fmt), _new=True)


def multicore(a, cpu, ncpu) -> dict | None:
    """read_packets on one big pcap and one big pcapng: 1 process (pinned) vs N (all CPUs).

    Each round runs the one-process read, the N-process read and the machine ceiling (N
    CPU-bound loops at once against one) back to back, so all three see the same load;
    the best of ``--repeat`` rounds counts (the fastest read, the highest ceiling)."""
    jobs = a.multicore_jobs or ncpu
    if jobs < 2:
        print("\nmulti-core row skipped: one CPU")
        return None
    sys.path.insert(0, HERE)
    from bench_batch import ceiling
    from make_capture import generate
    reader, _ = resolve_reader(a.reader)
    out = {"jobs": jobs, "formats": {}}
    for fmt in ("pcap", "pcapng"):
        path = os.path.join(a.out_dir, f"bench-{a.multicore_packets}-s{a.seed}.{fmt}")
        os.makedirs(a.out_dir, exist_ok=True)
        info = _generated(path, a.multicore_packets, a.seed, fmt, generate)
        new = info.pop("_new")
        warm(path)
        row: dict = {"bytes": os.path.getsize(path), "packets": info["packets"], "rounds": []}
        print(f"\nmulti-core: {path} ({row['bytes'] / 1e9:.2f} GB)", flush=True)
        best: dict = {}
        for _ in range(max(1, a.repeat)):
            got = {}
            for n, cpus in ((1, {cpu if cpu is not None else 0}), (jobs, set(range(ncpu)))):
                r = run_python_child("reader", ["--path", path, "--engine", "auto", "--reader", reader,
                                                "--jobs", str(n)], cpu, cpus=cpus)
                if "error" in r or r.get("returncode"):
                    row[f"jobs{n}"] = {k: r.get(k) for k in ("error", "returncode", "stderr")}
                    out["formats"][fmt] = row
                    print(f"  jobs={n} failed: {r.get('error')}")
                    return out
                got[n] = r
                if n not in best or r["seconds"] < best[n]["seconds"]:
                    best[n] = r
            limit = ceiling(jobs, set(range(ncpu)))   # on the CPUs the N-process read had
            row["rounds"].append({"jobs1_s": got[1]["seconds"], f"jobs{jobs}_s": got[jobs]["seconds"],
                                  "ceiling": limit, "load": os.getloadavg()[0]})
            print(f"  round: 1 process {got[1]['seconds']:.2f} s ({got[1]['cpu_s']:.2f} s CPU), {jobs} processes "
                  f"{got[jobs]['seconds']:.2f} s ({got[jobs]['cpu_s'] + got[jobs]['children_cpu_s']:.2f} s CPU "
                  f"in all): x{got[1]['seconds'] / got[jobs]['seconds']:.2f}; ceiling now x{limit:.2f}", flush=True)
        for n in (1, jobs):
            row[f"jobs{n}"] = {k: best[n].get(k) for k in ("seconds", "cpu_s", "children_cpu_s", "ru_maxrss_kb",
                                                             "rows")}
        row["speedup"] = best[1]["seconds"] / best[jobs]["seconds"]
        row["ceiling"] = max(r["ceiling"] for r in row["rounds"])
        print(f"  {fmt}: 1 process {best[1]['seconds']:.2f} s, {jobs} processes {best[jobs]['seconds']:.2f} s: "
              f"x{row['speedup']:.2f} (best of {len(row['rounds'])}); machine ceiling in the same rounds "
              f"x{row['ceiling']:.2f} ({jobs} CPU-bound loops at once against one: the most any {jobs}-process "
              "speedup can reach now)", flush=True)
        out["formats"][fmt] = row
        if new and not a.keep:
            os.unlink(path)
            os.unlink(path + ".json")
    return out


def print_markdown(results: dict, multi: dict | None, a) -> None:
    """The table for README's Performance section, from this run."""
    print("\n---- Markdown (README, Performance) ----\n")
    print("| capture | tool | packets/s | MB/s | peak RSS | vs tshark | vs tshark by CPU time |")
    print("|---|---|---|---|---|---|---|")
    for fmt, (_, out) in results.items():
        by = out.get("by", {})
        cap = out.get("capture", {})
        label = f"{fmt}, {cap.get('packets', 0) / 1e6:g}M packets, {cap.get('bytes', 0) / 1e6:,.0f} MB"
        t = by.get("tshark", {})
        for tool, name in (("ours/auto", "`read_packets` (own walk)"),
                           ("ours/scapy", "`read_packets(engine=\"scapy\")`"),
                           ("tshark", "tshark field export"), ("scapy", "Scapy dissection (prefix)")):
            r = by.get(tool)
            if not r or not r.get("pps"):
                continue
            ratio = f"x{r['pps'] / t['pps']:.1f}" if t.get("pps") and tool != "tshark" else ""
            by_cpu = (f"x{r['pps_cpu'] / t['pps_cpu']:.1f}" if r.get("pps_cpu") and t.get("pps_cpu")
                      and tool != "tshark" else "")
            print(f"| {label} | {name} | {r['pps']:,.0f} | {r['mbps']:,.0f} | {mb(r.get('ru_maxrss_kb'))} MiB "
                  f"| {ratio} | {by_cpu} |")
    if multi:
        for fmt, row in multi["formats"].items():
            j = multi["jobs"]
            one, many = row.get("jobs1", {}), row.get(f"jobs{j}", {})
            if one.get("seconds") and many.get("seconds"):
                print(f"| {fmt}, {row['packets'] / 1e6:g}M packets, {row['bytes'] / 1e9:.2f} GB "
                      f"| `read_packets(jobs={j})` "
                      f"| {row['packets'] / many['seconds']:,.0f} | {row['bytes'] / 1e6 / many['seconds']:,.0f} "
                      f"| {mb(many.get('ru_maxrss_kb'))} MiB (parent) | x{row['speedup']:.2f} over 1 process "
                      f"({one['seconds']:.2f} s -> {many['seconds']:.2f} s; "
                      f"machine ceiling x{row['ceiling']:.2f}) | |")


def _cpu_model() -> str | None:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _versions() -> dict:
    out = {}
    for m in ("numpy", "pandas", "pyarrow", "scapy"):
        try:
            out[m] = importlib.import_module(m).__version__
        except Exception:  # noqa: BLE001
            out[m] = None
    return out


if __name__ == "__main__":
    sys.exit(main())
