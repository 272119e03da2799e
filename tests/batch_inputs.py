"""Inputs for the batch tests, built from the real fixture captures: a folder, a tar.gz
and a zip with nested compression, a nested archive, non-captures, a member named
``../evil.pcap``, links and a device node.  Also a function that kills its worker."""
from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pandas as pd

from conftest import FIXTURES, PCAPS

LAB, LAB2, CORPUS = PCAPS / "lab", PCAPS / "lab2", PCAPS / "corpus"
INPUTS = ["folder", "caps.tar.gz", "caps.zip"]   # the batch inputs, relative to the inputs folder

# address (relative to the inputs folder) -> the fixture file whose packets it holds
CAPTURES = {
    "folder/icmp-net-unreach.pcap": LAB / "icmp-net-unreach.pcap",
    "folder/sub/spi-mismatch.pcap": LAB / "spi-mismatch.pcap",
    "folder/sub/esp.pcapng": CORPUS / "ndpi-esp.pcapng",
    "folder/snoop.txt": CORPUS / "netscreen-movingpackets-ike-vlan.txt",
    "caps.tar.gz::natt.pcap": LAB / "natt.pcap",
    "caps.tar.gz::nested/ipv6.pcap.gz": LAB / "ipv6.pcap",
    "caps.tar.gz::../evil.pcap": LAB / "icmp-frag-needed.pcap",
    "caps.tar.gz::snoop/vlan.txt": CORPUS / "netscreen-askws-q21209-tcp-vlan.txt",
    "caps.zip::net-unreach.pcapng.gz": LAB / "icmp-net-unreach.pcapng",
    "caps.zip::/abs/natt2.pcap": LAB2 / "natt.pcap",
    "caps.zip::more.tar::ikev2-rekey.pcap": LAB / "ikev2-rekey.pcap",
    "caps.zip::more.tar::snoop.txt.xz": CORPUS / "netscreen-askws-q21209-tcp-vlan.txt",
}
SKIPPED = {  # address -> words of the reason
    "folder/README.txt": "not a capture file",
    "caps.tar.gz::notes.txt": "not a capture file",
    "caps.tar.gz::link.pcap": "symbolic link",
    "caps.tar.gz::hard.pcap": "hard link",
    "caps.tar.gz::dev.pcap": "device",
    "caps.zip::readme.md": "not a capture file",
    "caps.zip::zlink.pcap": "symbolic link",
}
ERRORS = {"folder/sub/corrupt.pcap": "not a capture file"}


def build_inputs(root: Path) -> Path:
    """Write the inputs under ``root`` and return it (addresses are relative to it)."""
    folder = root / "folder"
    (folder / "sub").mkdir(parents=True)
    for address, source in CAPTURES.items():
        if address.startswith("folder/"):
            (root / address).write_bytes(source.read_bytes())
    (folder / "README.txt").write_text("captures of case 1234\n")
    (folder / "sub" / "corrupt.pcap").write_bytes(b"this is no capture\n" * 10)

    with tarfile.open(root / "caps.tar.gz", "w:gz") as tar:
        _add(tar, "natt.pcap", (LAB / "natt.pcap").read_bytes())
        _add(tar, "nested/ipv6.pcap.gz", gzip.compress((LAB / "ipv6.pcap").read_bytes()))
        _add(tar, "notes.txt", b"the customer says: bad SPI since Monday\n")
        _add(tar, "../evil.pcap", (LAB / "icmp-frag-needed.pcap").read_bytes())
        _add(tar, "snoop/vlan.txt", (CORPUS / "netscreen-askws-q21209-tcp-vlan.txt").read_bytes())
        _add(tar, "link.pcap", b"", tarfile.SYMTYPE, linkname="natt.pcap")
        _add(tar, "hard.pcap", b"", tarfile.LNKTYPE, linkname="natt.pcap")
        _add(tar, "dev.pcap", b"", tarfile.CHRTYPE)

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        _add(tar, "ikev2-rekey.pcap", (LAB / "ikev2-rekey.pcap").read_bytes())
        import lzma
        _add(tar, "snoop.txt.xz", lzma.compress((CORPUS / "netscreen-askws-q21209-tcp-vlan.txt").read_bytes()))
    with zipfile.ZipFile(root / "caps.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("net-unreach.pcapng.gz", gzip.compress((LAB / "icmp-net-unreach.pcapng").read_bytes()))
        z.writestr("/abs/natt2.pcap", (LAB2 / "natt.pcap").read_bytes())
        z.writestr("readme.md", "# notes\n")
        z.writestr("more.tar", inner.getvalue())
        link = zipfile.ZipInfo("zlink.pcap")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "/etc/passwd")
    return root


def _add(tar: tarfile.TarFile, name: str, data: bytes, kind=tarfile.REGTYPE, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def logs(scenario: str, form: str = "screenos-syslog.log") -> Path:
    return FIXTURES / "logs" / scenario / form


def die_on_crash(item):
    """For the pool test: a worker that dies the way an out-of-memory kill looks."""
    if item == "crash":
        os._exit(9)
    return item * 2


def table(dataset, name):
    return pd.read_parquet(Path(dataset) / name, dtype_backend="pyarrow")


def assert_same_dataset(a, b):
    for name in ("packets", "findings", "summary"):
        x, y = (table(d, name) for d in (a, b))
        keys = ["capture_id", "frame"] if name == "packets" else ["capture_id", "tunnel", "cause"] \
            if name == "findings" else ["capture_id"]
        x, y = (t.sort_values(keys).reset_index(drop=True) for t in (x, y))
        assert len(x) > 0
        pd.testing.assert_frame_equal(x, y)
