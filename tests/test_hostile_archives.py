"""Hostile archives for `badspi batch`: member names that climb out (`..`, absolute
paths), links, devices and FIFOs, and more members than anyone needs.  Names are labels,
nothing is followed, opened or written; every member is accounted for."""
from __future__ import annotations

import io
import tarfile
import zipfile

from badspi_pcap import archive
from badspi_pcap.archive import CaptureLocation, Limits
from conftest import PCAPS

CAPTURE = (PCAPS / "lab" / "natt.pcap").read_bytes()


def _tar(path):
    with tarfile.open(path, "w") as t:
        for name in ("../../escape.pcap", "/abs/evil.pcap", "ok.pcap"):
            info = tarfile.TarInfo(name)
            info.size = len(CAPTURE)
            t.addfile(info, io.BytesIO(CAPTURE))
        for name, kind, target in (("sym.pcap", tarfile.SYMTYPE, "/etc/passwd"),
                                   ("hard.pcap", tarfile.LNKTYPE, "ok.pcap"),
                                   ("dev.pcap", tarfile.CHRTYPE, ""), ("fifo.pcap", tarfile.FIFOTYPE, "")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            t.addfile(info)


def test_climbing_names_links_and_devices_are_labels_never_followed(tmp_path):
    _tar(tmp_path / "evil.tar")
    before = sorted(p.name for p in tmp_path.iterdir())
    found = {item.address.split("::", 1)[1]: item for item in archive.scan(tmp_path / "evil.tar")}
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written anywhere
    assert not (tmp_path.parent.parent / "escape.pcap").exists()
    for name in ("../../escape.pcap", "/abs/evil.pcap", "ok.pcap"):
        assert isinstance(found[name], CaptureLocation)
    assert "not followed" in found["sym.pcap"].reason and "/etc/passwd" in found["sym.pcap"].reason
    assert "not followed" in found["hard.pcap"].reason
    assert "not read" in found["dev.pcap"].reason and "not read" in found["fifo.pcap"].reason
    # The climbing names read as captures, from the archive's bytes.
    with archive.open_source(found["../../escape.pcap"]) as stream:
        assert stream.read() == CAPTURE


def test_absurdly_many_members_stop_at_the_limit(tmp_path):
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as z:
        for i in range(60):
            z.writestr(f"m{i}.txt", b"x")
    items = archive.scan(tmp_path / "many.zip", limits=Limits(max_members=50))
    assert len(items) == 51
    assert items[-1].reason == "archive has more than 50 members: the rest were not read"
