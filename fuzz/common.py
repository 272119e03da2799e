"""Shared by the fuzz harnesses: seeds from the fixtures, limits, the one rule checked.

The rule: feeding any bytes to a reader either returns a result or raises one of the
project's own ``BadspiError``s.  Anything else escaping is a finding.  Memory is bounded
by an address-space limit set after start-up: what the process maps then plus
``BADSPI_FUZZ_HEADROOM_MB`` (default 1024), so a reader that believes a length of 1 GB
or more and allocates it dies with MemoryError, which is a finding too.  Time is bounded
by libFuzzer's ``-timeout`` (per input).
"""
from __future__ import annotations

import os
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def limit_memory() -> None:
    """Cap the address space at what is mapped now plus the headroom (call after warm-up)."""
    mb = int(os.environ.get("BADSPI_FUZZ_HEADROOM_MB", "1024"))
    if mb <= 0:
        return
    with open("/proc/self/status") as f:
        mapped = next(int(line.split()[1]) << 10 for line in f if line.startswith("VmSize:"))
    cap = mapped + (mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def scratch_file(suffix: str) -> Path:
    """A path in memory-backed storage where the harness writes each input."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    fd, name = tempfile.mkstemp(prefix="badspi-fuzz-", suffix=suffix, dir=base)
    os.close(fd)
    return Path(name)


def seed_dir(name: str, seeds: dict[str, bytes]) -> str:
    """Write the seeds to a fresh corpus directory (libFuzzer adds what it finds there)."""
    path = Path(tempfile.mkdtemp(prefix=f"badspi-fuzz-{name}-"))
    for key, data in seeds.items():
        (path / key).write_bytes(data)
    return str(path)


def corpus_args(name: str, seeds: dict[str, bytes]) -> list[str]:
    """sys.argv with a corpus directory: the one named (seeded when it is empty or new)
    or a new seeded one."""
    args = list(sys.argv)
    named = [a for a in args[1:] if not a.startswith("-")]
    if not named:
        args.append(seed_dir(name, seeds))
    for corpus in named[:1]:
        path = Path(corpus)
        path.mkdir(parents=True, exist_ok=True)
        if not any(path.iterdir()):
            for key, data in seeds.items():
                (path / key).write_bytes(data)
    return args


_PLAIN = (int, float, bool, bytes, bytearray, str, type(None))


def plain_comparisons_only(atheris, target):
    """``target`` with atheris tracing only comparisons of plain Python values.

    atheris' native comparison hook keeps a reference to every result that is not a
    plain bool, so each vectorised comparison of NumPy arrays in the decoder leaked its
    result array (about 1 GB per 30,000 inputs).  Array comparisons are done here
    directly instead; comparisons of ints, bytes and strings (magic numbers, lengths)
    still guide the fuzzer.  The hook is swapped inside the target because
    ``atheris.Fuzz()`` installs its own when it starts.
    """
    import operator

    from atheris.version_dependent import CMP_OP_SHIFT_AMOUNT

    ops = (operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge)
    state = {"native": None}

    def trace_cmp(obj1, obj2, op, counter, is_const):
        if type(obj1) in _PLAIN and type(obj2) in _PLAIN:
            return state["native"](obj1, obj2, op, counter, is_const)
        return ops[op >> CMP_OP_SHIFT_AMOUNT](obj1, obj2)

    def run(data):
        if atheris._trace_cmp is not trace_cmp:
            state["native"] = atheris._trace_cmp
            atheris._trace_cmp = trace_cmp
        return target(data)

    return run


def fuzz(name: str, target, corpus: dict[str, bytes], scratch: Path, warm_up: int = 30) -> None:
    """Run ``target`` under atheris: NumPy warnings are findings, the libraries are warmed
    up before the memory cap, the corpus is seeded, and ``scratch`` is removed at the end."""
    import warnings

    import atheris

    warnings.simplefilter("error", RuntimeWarning)  # numpy overflow or invalid value: a finding
    for data in list(corpus.values())[:warm_up]:  # the libraries map their pools now
        target(data)
    args = corpus_args(name, corpus)
    limit_memory()
    atheris.Setup(args, plain_comparisons_only(atheris, target))
    try:
        atheris.Fuzz()
    finally:
        scratch.unlink(missing_ok=True)
