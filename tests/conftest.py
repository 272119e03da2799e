import os
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
