"""The command runs Arrow on the C library's allocator (freed memory goes back to the system:
a lower peak on big captures), unless the user chose a pool with ARROW_DEFAULT_MEMORY_POOL."""
import os
import subprocess
import sys

import pytest

from conftest import PCAPS

CAPTURE = PCAPS / "lab" / "icmp-net-unreach.pcap"
# pyarrow is imported by the command, as when run from the shell (the pool is chosen then)
CHILD = ("import sys; from badspi_pcap.cli import main; code = main(['packets', sys.argv[1]]); import pyarrow; "
         "print('pool', pyarrow.default_memory_pool().backend_name); sys.exit(code)")


@pytest.mark.parametrize("chosen, used", [(None, "system"), ("jemalloc", "jemalloc"), ("mimalloc", "mimalloc")])
def test_the_command_uses_the_system_pool_unless_told(chosen, used):
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    done = subprocess.run([sys.executable, "-c", CHILD, str(CAPTURE)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"pool {used}"
    assert "icmp-net-unreach.pcap: pcap, 144 frames" in done.stdout
