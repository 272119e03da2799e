import os
from functools import lru_cache
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PCAPS = FIXTURES / "pcaps"


@pytest.fixture
def pcaps() -> Path:
    return PCAPS


def require_tshark():
    """Skip without tshark on a laptop; in CI (CI=true) its absence is a failure."""
    from tshark_oracle import have_tshark
    if not have_tshark():
        if os.environ.get("CI"):
            pytest.fail("tshark is required in CI (.ci/run installs it)")
        pytest.skip("tshark not installed")


class chdir:
    """Run the block in ``path`` (contextlib.chdir, which needs Python 3.11)."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.old)


def require_matplotlib():
    """Skip the calling module without matplotlib on a laptop; in CI (CI=true) its absence
    is a failure.  Call it before importing matplotlib or the plotting modules."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("matplotlib not installed: pip install -e '.[notebook]'", allow_module_level=True)


@lru_cache(maxsize=None)
def scenario(name: str, form: str = "screenos-syslog.log", with_sa: bool = False):
    """``analyze`` of a fixture scenario as its truth file describes it (cached)."""
    import json

    from badspi_pcap import analyze
    truth = json.loads((FIXTURES / "logs" / name / "truth.json").read_text())
    sas = [FIXTURES / "logs" / name / "get-sa.txt"] if with_sa else None
    return analyze([FIXTURES.parent / c["pcap"] for c in truth["captures"]], [FIXTURES / "logs" / name / form], sas,
                   log_tz=truth["params"]["tz"], log_self=truth["params"]["log_self"])


@lru_cache(maxsize=None)
def capture_only(path: str = "pcaps/lab/icmp-net-unreach.pcap"):
    """``analyze`` of a fixture capture without logs (cached)."""
    from badspi_pcap import analyze
    return analyze(FIXTURES / path)
