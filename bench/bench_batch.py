#!/usr/bin/env python3
"""How fast is ``badspi batch`` over a folder of captures, at 1 job and at all cores?

Builds a folder of the fixture captures (lab, lab2, corpus) in ``--copies`` variants each
(a changed pcap header field or a gzip header time, so that every copy is a different
capture by content: nothing is skipped as a duplicate), plus ``--large`` synthetic captures
of ``--large-packets`` packets from ``make_capture.py``.  Then runs the whole command,
``badspi batch FOLDER -o FRESH_DATASET -j N``, in a child process for each N, and prints
files/s, MB/s (input bytes as stored, 10^6) and the scaling ratio (wall time at 1 job over
wall time at N).  The page cache is warmed first; every run writes a new dataset.  The
datasets of all runs are compared: they must hold the same rows.  ``cpu s`` is the CPU
time of the batch and all its worker processes (sampled from /proc); ``other`` is the
load, in cores, of everything else on the machine during the run: a shared machine
shows there why a scaling ratio is low.  The ``machine ceiling`` line runs N copies of a
CPU-bound loop against one: the best scaling this machine allows at that moment.

``--archive`` also packs the folder into one .tgz and runs batch on that (members read
as streams).

Usage:  python bench/bench_batch.py [--copies 10] [--large 4] [--large-packets 200000]
                                    [--jobs 1,2] [--repeat 1] [--archive] [--json out.json]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PCAPS = ROOT / "fixtures" / "pcaps"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")


def fixture_captures() -> list[Path]:
    files = [p for d in ("lab", "lab2", "corpus") for p in sorted((PCAPS / d).iterdir())
             if p.suffix in CAPTURE_SUFFIXES or p.name.startswith("netscreen-")]
    return files


def variant(data: bytes, i: int, name: str) -> tuple[str, bytes]:
    """Copy ``i`` of a capture with different bytes and the same packets."""
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") and i % 2 == 0:
        return name, data[:12] + struct.pack("<I", i) + data[16:]      # sigfigs: ignored by readers
    if data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d") and i % 2 == 0:
        return name, data[:12] + struct.pack(">I", i) + data[16:]
    return name + ".gz", gzip.compress(data, compresslevel=6, mtime=i)


def build(folder: Path, copies: int, large: int, large_packets: int) -> None:
    folder.mkdir(parents=True)
    for i in range(copies):
        sub = folder / f"copy{i:03d}"
        sub.mkdir()
        for path in fixture_captures():
            name, data = variant(path.read_bytes(), i, f"{path.parent.name}-{path.name}")
            (sub / name).write_bytes(data)
    for k in range(large):
        subprocess.run([sys.executable, str(HERE / "make_capture.py"), "--packets", str(large_packets),
                        "--seed", str(100 + k), "--out", str(folder / f"large-{k}.pcap"), "--no-sidecar"],
                       check=True, stdout=subprocess.DEVNULL)


def warm(paths) -> tuple[int, int]:
    files = size = 0
    for p in paths:
        with open(p, "rb") as f:
            while chunk := f.read(8 << 20):
                size += len(chunk)
        files += 1
    return files, size


TICK = os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all processes have used since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


class TreeCPU(threading.Thread):
    """CPU seconds of a process and all its descendants (the batch, its forkserver and
    pool workers, which rusage does not see), sampled from /proc every 0.1 s; each
    process counts with its last sample."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.seen, self.stop = root, {}, threading.Event()

    def sample(self) -> None:
        parent, cpu = {}, {}
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        rest = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parent[int(pid)] = int(rest[1])
                cpu[int(pid)] = (int(rest[11]) + int(rest[12])) / TICK
        for pid in cpu:
            p, depth = pid, 0
            while p in parent and p != self.root and depth < 32:
                p, depth = parent[p], depth + 1
            if p == self.root:
                self.seen[pid] = cpu[pid]

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.sample()

    def total(self) -> float:
        return sum(self.seen.values())


def run(target: Path, out: Path, jobs: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    busy0 = machine_busy()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "badspi_pcap.cli", "batch", str(target), "-o", str(out),
                             "-j", str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree = TreeCPU(proc.pid)
    tree.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    tree.stop.set()
    tree.join()
    busy = machine_busy() - busy0
    if proc.returncode != 0:
        sys.exit(f"batch failed ({proc.returncode}):\n{stderr}")
    footer = [line for line in stdout.splitlines() if " found: " in line]
    cpu = tree.total()
    return {"jobs": jobs, "wall_s": wall, "cpu_s": cpu, "other_cores": max(busy - cpu, 0.0) / wall,
            "footer": footer[0] if footer else ""}


SPIN = "import time; t = time.process_time(); n = 0\nwhile time.process_time() - t < 1.5: n += 1"


def ceiling(n: int, cpus: set[int] | None = None) -> float:
    """What n cores give here: n copies of a 1.5 s CPU-bound loop at once, against one
    alone (n on an idle machine with n real cores; less when shared or hyper-threaded).
    The loops run on ``cpus`` (default: every CPU), not on the caller's own affinity: a
    caller pinned to one CPU would otherwise measure that one CPU."""
    allowed = cpus or set(range(os.cpu_count() or 1))

    def wall(k):
        t0 = time.perf_counter()
        for p in [subprocess.Popen([sys.executable, "-c", SPIN], preexec_fn=lambda: os.sched_setaffinity(0, allowed))
                  for _ in range(k)]:
            p.wait()
        return time.perf_counter() - t0
    return n * wall(1) / wall(n)


def rows(out: Path):
    import pandas as pd

    tables = {}
    for name, keys in (("summary", ["capture_id"]), ("packets", ["capture_id", "frame"]),
                       ("findings", ["capture_id", "tunnel", "cause"])):
        df = pd.read_parquet(out / name)
        tables[name] = df.sort_values(keys).reset_index(drop=True)
    return tables


def same(a: Path, b: Path) -> bool:
    x, y = rows(a), rows(b)
    return all(x[k].equals(y[k]) for k in x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=10, help="variants of each fixture capture")
    ap.add_argument("--large", type=int, default=4, help="synthetic captures")
    ap.add_argument("--large-packets", type=int, default=200_000)
    ap.add_argument("--jobs", default=f"1,{len(os.sched_getaffinity(0))}", help="comma-separated --jobs values")
    ap.add_argument("--repeat", type=int, default=1, help="runs per --jobs value; the fastest counts")
    ap.add_argument("--archive", action="store_true", help="also run on one .tgz of the whole folder")
    ap.add_argument("--work", default="/tmp/badspi-bench-batch", help="folder for inputs and datasets (deleted)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    folder = work / "captures"
    t0 = time.perf_counter()
    build(folder, args.copies, args.large, args.large_packets)
    inputs = sorted(p for p in folder.rglob("*") if p.is_file())
    files, size = warm(inputs)
    print(f"inputs: {files} files, {size / 1e6:.1f} MB ({args.copies} variants of {len(fixture_captures())} "
          f"fixture captures + {args.large} synthetic x {args.large_packets} packets); built in "
          f"{time.perf_counter() - t0:.1f} s")
    targets = [("folder", folder, files, size)]
    if args.archive:
        tgz = work / "captures.tgz"
        with tarfile.open(tgz, "w:gz", compresslevel=1) as tar:
            tar.add(folder, arcname="captures")
        warm([tgz])
        targets.append(("tgz", tgz, files, tgz.stat().st_size))
        print(f"archive: {tgz.name}, {tgz.stat().st_size / 1e6:.1f} MB (gzip -1), {files} members")

    jobs = [int(j) for j in args.jobs.split(",")]
    most = max(jobs)
    limit = ceiling(most)
    print(f"machine ceiling: {most} CPU-bound processes at once do {limit:.2f}x the work of one "
          f"(load average {os.getloadavg()[0]:.1f})")
    results = []
    print(f"\n{'input':6}  {'jobs':>4}  {'wall s':>7}  {'cpu s':>7}  {'files/s':>8}  {'MB/s':>7}  "
          f"{'other':>5}   footer")
    for label, target, n, nbytes in targets:
        for j in jobs:
            best = min((run(target, work / f"ds-{label}-{j}", j) for _ in range(args.repeat)),
                       key=lambda r: r["wall_s"])
            best.update(input=label, files=n, mb=nbytes / 1e6, files_per_s=n / best["wall_s"],
                        mb_per_s=nbytes / 1e6 / best["wall_s"])
            results.append(best)
            print(f"{label:6}  {j:>4}  {best['wall_s']:7.2f}  {best['cpu_s']:7.2f}  {best['files_per_s']:8.1f}  "
                  f"{best['mb_per_s']:7.1f}  {best['other_cores']:5.2f}   {best['footer']}")
    print()
    for label, *_ in targets:
        mine = [r for r in results if r["input"] == label]
        one = next((r for r in mine if r["jobs"] == 1), None)
        for r in mine:
            if one and r["jobs"] != 1:
                r["scaling"] = one["wall_s"] / r["wall_s"]
                r["cpu_ratio"] = r["cpu_s"] / one["cpu_s"]
                print(f"{label}: scaling at {r['jobs']} jobs = {r['scaling']:.2f}x (wall at 1 job / wall at "
                      f"{r['jobs']}); CPU seconds {r['cpu_ratio']:.2f}x those of 1 job")
    datasets = [work / f"ds-{r['input']}-{r['jobs']}" for r in results if r["input"] == "folder"]
    identical = all(same(datasets[0], d) for d in datasets[1:])
    print(f"datasets of the folder runs identical: {identical}")
    if args.json:
        Path(args.json).write_text(json.dumps({"ceiling": limit,
                                               "inputs": {"files": files, "mb": size / 1e6, "copies": args.copies,
                                                          "large": args.large, "large_packets": args.large_packets},
                                               "cpus": os.cpu_count(), "results": results,
                                               "identical": identical}, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if not identical:
        sys.exit("the datasets differ between --jobs values")


if __name__ == "__main__":
    main()
