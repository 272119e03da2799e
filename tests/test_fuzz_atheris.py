"""A bounded coverage-guided fuzz run (atheris) of every capture reader and log parser.

CI runs the harnesses in fuzz/ side by side, each for a fixed number of inputs from a fixed
seed (a few seconds each); a finding fails the test with the harness' report.  Without
atheris the test is skipped on a laptop and fails in CI (.ci/run installs it).  The
longer runs are described in fuzz/README.md."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
RUNS = {"fuzz_capture.py": 600, "fuzz_logs.py": 450}
SCALE = int(os.environ.get("BADSPI_FUZZ_SCALE", "1"))


def _need_atheris() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("atheris is required in CI (.ci/run installs it)")
        pytest.skip("atheris not installed (pip install atheris)")


def test_bounded_fuzz_runs_find_nothing(tmp_path):
    _need_atheris()
    procs = {}
    for harness, runs in RUNS.items():
        work = tmp_path / harness.removesuffix(".py")
        work.mkdir()
        cmd = [sys.executable, str(FUZZ / harness), str(work / "corpus"), f"-runs={runs * SCALE}", "-seed=1",
               "-timeout=20", "-max_total_time=240", f"-artifact_prefix={work}/"]
        procs[harness] = (work, subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                 text=True))
    for harness, (work, proc) in procs.items():
        _, err = proc.communicate(timeout=600)
        report = f"{harness}:\n{err[-6000:]}"
        assert proc.returncode == 0, report
        done = re.search(r"Done (\d+) runs in (\d+) second", err)
        assert done and int(done.group(1)) >= RUNS[harness] * SCALE, report
        assert not [p for p in work.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-"))], report
        assert len(list((work / "corpus").iterdir())) > 20, report  # seeded: it fuzzed real inputs
