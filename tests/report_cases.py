"""The HTML report cases shared by the report tests (in Python and in a real browser):
the icmp-net-unreach lab capture with its log, and the same log made hostile."""
from badspi_pcap.cli import main
from conftest import FIXTURES, PCAPS

CAPTURE = str(PCAPS / "lab" / "icmp-net-unreach.pcap")
LOG = str(FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log")
PAYLOAD = "<script>document.title='PWNED'</script><img src=x onerror=alert(1)>"
HOSTILE_NAME = "<svg onload=alert(1)>.log"


def hostile_log(tmp_path):
    """The icmp-net-unreach log with markup after every line's text, under a file name
    that is itself markup."""
    lines = (FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log").read_text().splitlines()
    path = tmp_path / HOSTILE_NAME
    path.write_text("\n".join(ln.replace(" (2026-11-26", f" {PAYLOAD} (2026-11-26") for ln in lines) + "\n")
    return path


def report(tmp_path, *extra, log=LOG) -> str:
    out = tmp_path / "case.html"
    assert main(["analyze", CAPTURE, "-e", str(log), "--log-tz", "Europe/Berlin", "--report", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")
