"""Worker processes that die with the ``badspi batch`` that started them.

A pool worker outliving its run (the run killed with -9, or by SIGTERM to its main
process alone, as supervisors and ``Popen.terminate()`` do) would keep holding the
caller's pipes and go on writing into the dataset.  Two independent guards:

- Linux: the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``).  Pool
  workers are children of multiprocessing's forkserver, itself a child of the run's main
  process, so both set it: ``badspi_pcap.forkserver_preload`` is the forkserver's first preload, and
  ``start_worker`` runs in every worker.
- Everywhere: a thread in each worker watches the main process (a pidfd where there is
  one, else polling) and ends the worker when it is gone.

(The kernel's signal follows the *thread* that started the forkserver; should that thread
end first, multiprocessing starts a new forkserver for the next pool.)
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

POLL_S = 0.5
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent ends (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:    # the parent ended before the request took effect
        os._exit(1)


def start_worker(main_pid: int) -> None:
    """Pool worker initializer: die with the forkserver and with the run's main process;
    leave Ctrl-C to the main process (which stops the workers itself)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch, args=(main_pid,), name="badspi-lifeline", daemon=True).start()


def _watch(pid: int) -> None:
    try:
        import select

        fd = os.pidfd_open(pid)
        select.select([fd], [], [])          # readable once the process has ended
    except ProcessLookupError:
        pass                                  # already gone
    except (AttributeError, OSError):
        while process_alive(pid):
            time.sleep(POLL_S)
    os._exit(1)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal counts as alive)."""
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if sys.platform == "win32":
    def _windows_process_alive(pid: int) -> bool:
        """On Windows ``os.kill(pid, 0)`` sends CTRL_C_EVENT (or terminates): ask instead."""
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x1000, False, pid)      # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5                # ERROR_ACCESS_DENIED: exists, not ours
        try:
            code = ctypes.c_ulong()
            return not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
