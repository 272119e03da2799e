"""How fast is the log parser (issue 17, point 9)?  ``parse_logs`` on two generated logs:

* N ScreenOS 00026 bad-SPI syslog lines (as ``bench_scale.py`` writes them), and
* a mixed-vendor log of about N lines: the lines of every real log in fixtures/real/logs
  (all vendors, with their unparsed and ignored lines) repeated until N.

Prints seconds (wall and CPU) and lines/s for each, best of ``--repeat``.  ``--formats``
instead times one log per vendor format, its fixtures repeated to about 10,000 lines, in CPU
milliseconds per 1,000 lines (the figure to compare across formats and commits).

Usage:  python bench/bench_logs.py [--lines 100000] [--repeat 3] [--profile] [--formats]
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np

from badspi_pcap.logs.parse import parse_logs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REAL_LOGS = FIXTURES / "real" / "logs"
# vendor format -> the fixture logs of that format (globs under fixtures/)
FORMAT_LOGS = {
    "screenos-syslog": ["logs/*/screenos-syslog.log", "real/logs/*screenos*.log"],
    "screenos-cli": ["logs/*/screenos-event.log"],
    "asa": ["logs/*/asa.log", "real/logs/*asa*.log"],
    "ios": ["logs/*/ios.log", "real/logs/ios*.log"],
    "junos": ["real/logs/*junos*.log"],
    "fortios": ["real/logs/*fortios*.log"],
    "panos-ikemgr": ["real/logs/*panos-ikemgr*.log"],
    "panos-system": ["real/logs/panos-system*.log"],
    "strongswan": ["logs/reference/ikev2-rekey.charon-gwA.log", "logs/reference/ikev1-rekey.charon-gwA.log"],
    "libreswan": ["real/logs/*swan-*.log"],
    "linux-audit": ["real/logs/linux*.log"],
    "sonicwall": ["real/logs/sonicwall*.log"],
}
START = 1_625_054_915.0   # 2021-06-30 12:08:35 UTC


def screenos_log(path: Path, lines: int) -> None:
    rng = np.random.default_rng(1)
    times = START + np.sort(rng.uniform(0, 3600, lines))
    spis = 0x10000000 + rng.integers(0, 1000, lines)
    with path.open("w") as f:
        for t, spi in zip(times.tolist(), spis.tolist()):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(t)))
            head = time.strftime("%b %d %H:%M:%S", time.gmtime(int(t)))
            f.write(f"{head} gw gw: NetScreen device_id=gw  [Root]system-alert-00026: IPSec tunnel on interface "
                    f"ethernet0/2 with tunnel ID 0x9a received a packet with a bad SPI. 198.51.100.1->192.0.2.1/96,"
                    f" ESP, SPI 0x{spi:08x}, SEQ 0xfffff0. ({stamp})\n")


def mixed_log(path: Path, lines: int) -> None:
    real = [line for p in sorted(REAL_LOGS.glob("*.log"))
            for line in p.read_text(encoding="utf-8", errors="replace").splitlines()]
    with path.open("w") as f:
        for i in range(lines):
            f.write(real[i % len(real)] + "\n")


def measure(name: str, path: Path, lines: int, repeat: int, profile: bool) -> None:
    best, cpu = float("inf"), float("inf")   # wall and CPU seconds (CPU: less noisy on a loaded machine)
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = parse_logs(path, year=2021)
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    print(f"{name:<20} {lines:>8} lines  {best:6.2f} s ({cpu:5.2f} s CPU)  {lines / best:>9,.0f} lines/s"
          f"  ({len(result.events)} events, {result.unparsed_count} unparsed)")
    if profile:
        cProfile.runctx("parse_logs(path, year=2021)", globals(), {"path": path}, "/tmp/bench_logs.prof")
        pstats.Stats("/tmp/bench_logs.prof").sort_stats("cumulative").print_stats(30)


def format_log(path: Path, globs: list[str], lines: int = 10_000) -> int:
    """The fixture logs of one format, one after the other (a blank line between), repeated
    to about ``lines`` lines; returns the number of lines written."""
    files = sorted({p for pattern in globs for p in FIXTURES.glob(pattern)})
    text = [line for p in files for line in p.read_text(encoding="utf-8", errors="replace").splitlines() + [""]]
    text *= max(1, lines // len(text))
    path.write_text("\n".join(text) + "\n")
    return len(text)


def measure_formats(folder: Path, repeat: int) -> None:
    print(f"{'format':<16} {'lines':>6} {'events':>6}  CPU ms per 1,000 lines (best of {repeat})")
    for name, globs in FORMAT_LOGS.items():
        path = folder / f"{name}.log"
        lines = format_log(path, globs)
        cpu = float("inf")
        for _ in range(repeat):
            c0 = time.process_time()
            result = parse_logs(path, year=2021)
            cpu = min(cpu, time.process_time() - c0)
        print(f"{name:<16} {lines:>6} {len(result.events):>6}  {cpu / lines * 1e6:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one more run of each")
    parser.add_argument("--only", choices=("screenos", "mixed"))
    parser.add_argument("--formats", action="store_true", help="CPU ms per 1,000 lines of each vendor format")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.formats:
            measure_formats(Path(folder), args.repeat)
            return
        for name, write in (("screenos", screenos_log), ("mixed", mixed_log)):
            if args.only in (None, name):
                path = Path(folder) / f"{name}.log"
                write(path, args.lines)
                measure(f"parse_logs {name}", path, args.lines, args.repeat, args.profile)


if __name__ == "__main__":
    main()
