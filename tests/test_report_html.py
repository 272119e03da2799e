"""The HTML report (``badspi analyze --report``) and the notebook view (``_repr_html_``):
what it holds, that it fetches nothing, and that text from logs, packets and file names
stays text."""
import base64
import io
import re
import subprocess
import sys
from html.parser import HTMLParser

from conftest import FIXTURES, require_matplotlib, scenario

require_matplotlib()
from badspi_pcap.cli import main  # noqa: E402
from badspi_pcap.report.html import CSP, analysis_html, equivalent_command  # noqa: E402
from report_cases import CAPTURE, HOSTILE_NAME, LOG, PAYLOAD, hostile_log, report  # noqa: E402

VERDICT = "Verdict: tunnel 0x67: not covered by the capture (2 lines); tunnel 0x9a: embedded-icmp CONFIRMED (2 lines)"
FILTER = "(icmp || icmpv6) && (esp.spi == 0x1000a001 || ah.spi == 0x1000a001)"


def _icmp_frames():
    from badspi_pcap.capture import read_capture
    p = read_capture(CAPTURE).packets
    return sorted(int(f) for f in p.loc[(p["kind"] == "icmp-error") & (p["inner_spi"] == 0x1000A001), "frame"])


ICMP_FRAMES = _icmp_frames()


class Elements(HTMLParser):
    """Every start tag with its attributes, and the document's text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def test_report_is_one_self_contained_file_with_verdicts_plots_and_commands(tmp_path, capsys):
    text = report(tmp_path)
    out = capsys.readouterr()
    assert "  embedded-icmp: CONFIRMED, explains 2 of 2 covered bad-SPI lines" in out.out  # the text report too
    assert f"wrote the HTML report to {tmp_path / 'case.html'}" in out.err
    doc = Elements(text)
    words = doc.all_text()
    assert text.startswith("<!DOCTYPE html>")
    assert ("meta", {"http-equiv": "Content-Security-Policy", "content": CSP}) in doc.tags
    assert VERDICT in words
    assert "the device's clock is 37.0 s ahead of the capture's (estimated from 4 of 4 exact SPI+SEQ pairs" in words
    # evidence: line <-> frame pairs, the Wireshark filter and the action
    assert "screenos-syslog.log:3 21:06:03 device (UTC+01:00) 0x1000a001 0xe icmp-net-unreach.pcap#35" in words
    assert f"Wireshark display filter: {FILTER}" in words
    assert "if it is older, upgrade to 5.4 or later" in words
    # the command that made it and tshark commands for the evidence
    assert f"badspi analyze {CAPTURE} --events {LOG} --log-tz Europe/Berlin --report {tmp_path / 'case.html'}" in words
    assert f"tshark -r {CAPTURE} -o ip.defragment:FALSE -Y '{FILTER}'" in words
    frames = ", ".join(str(n) for n in ICMP_FRAMES)
    assert f"tshark -r {CAPTURE} -o ip.defragment:FALSE -Y 'frame.number in {{{frames}}}'" in words
    pre = re.findall(r"<pre>(.*?)</pre>", text, re.S)[-1].splitlines()
    assert pre == ["# tunnel 0x9a: embedded-icmp (confirmed)",
                   f"tshark -r {CAPTURE} -o ip.defragment:FALSE -Y &#x27;"
                   f"{FILTER.replace('&', '&amp;')}&#x27;",
                   f"tshark -r {CAPTURE} -o ip.defragment:FALSE -Y &#x27;frame.number in {{{frames}}}&#x27;"]
    # the plots: PNG data URIs that decode, one timeline (tunnel 0x67 has no packets) and the histogram
    images = [attrs for tag, attrs in doc.tags if tag == "img"]
    assert [i["alt"] for i in images] == ["Timeline of tunnel 0x9a", "Clock offset histogram"]
    import matplotlib.image as mpimg
    for img in images:
        assert img["src"].startswith("data:image/png;base64,")
        pixels = mpimg.imread(io.BytesIO(base64.b64decode(img["src"].split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 300 and pixels.shape[1] > 700
    assert "Not plotted, the capture has no packets of: tunnel 0x67" in words


def test_report_fetches_nothing(tmp_path):
    doc = Elements(report(tmp_path))
    for tag, attrs in doc.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "base", "form"), tag
        for name, value in attrs.items():
            if name in ("src", "href", "action", "srcset", "poster", "data"):
                assert value.startswith(("data:image/png;base64,", "#finding-")), (tag, name, value[:60])
            assert not name.startswith("on"), (tag, name)
        assert "url(" not in attrs.get("style", "")
    assert "@import" not in "".join(doc.text) and "url(" not in "".join(doc.text)


def test_hostile_log_text_and_file_names_stay_text(tmp_path):
    text = report(tmp_path, log=hostile_log(tmp_path))
    doc = Elements(text)
    tags = {tag for tag, _ in doc.tags}
    assert not tags & {"script", "svg", "b"}
    assert [attrs["src"][:22] for tag, attrs in doc.tags if tag == "img"] == ["data:image/png;base64,"] * 2
    assert not any(name.startswith("on") for _, attrs in doc.tags for name in attrs)
    words = doc.all_text()
    assert PAYLOAD in words                       # shown as the text it is
    assert HOSTILE_NAME in words
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;&lt;/script&gt;" in text
    assert VERDICT in words


def test_control_characters_from_a_log_do_not_reach_the_page(tmp_path):
    lines = (FIXTURES / "logs" / "icmp-net-unreach" / "screenos-syslog.log").read_text().splitlines()
    path = tmp_path / "ctl.log"
    path.write_text("\n".join(ln.replace(" (2026-11-26", " \x1b[31mred\x07 (2026-11-26") for ln in lines) + "\n")
    text = report(tmp_path, log=path)
    assert "\x1b" not in text and "\x07" not in text and "?[31mred?" in text


def test_notebook_view_is_a_fragment_without_plots():
    a = scenario("icmp-net-unreach")
    fragment = a._repr_html_()
    doc = Elements(fragment)
    assert not fragment.lstrip().startswith("<!DOCTYPE") and "<html" not in fragment
    assert doc.tags[0] == ("div", {"class": "badspi"})
    assert VERDICT in doc.all_text()
    assert not [t for t, _ in doc.tags if t == "img"]
    assert "badspi_pcap.plot_timeline(result)" in doc.all_text()
    # every style rule is scoped to the report, so a notebook's own style is left alone
    style = re.search(r"<style>(.*?)</style>", fragment, re.S).group(1)
    selectors = [s.strip() for rule in re.findall(r"([^{}]+)\{", style) for s in rule.split(",")]
    assert selectors and all(s.startswith(".badspi") for s in selectors), selectors


def test_equivalent_command_rebuilds_the_analysis():
    a = scenario("icmp-net-unreach")
    cmd = equivalent_command(a)
    assert cmd == (f"badspi analyze {FIXTURES.parent / 'fixtures/pcaps/lab/icmp-net-unreach.pcap'} "
                   f"-e {FIXTURES / 'logs/icmp-net-unreach/screenos-syslog.log'} --log-tz +01:00")
    assert "Equivalent command:" in Elements(analysis_html(a, plots=False)).all_text()


def test_capture_only_report(tmp_path):
    out = tmp_path / "c.html"
    assert main(["analyze", CAPTURE, "--report", str(out)]) == 0
    doc = Elements(out.read_text())
    words = doc.all_text()
    assert "No cause confirmed: SPI 0x1000a001: embedded-icmp INCONCLUSIVE (no log line)" in words
    assert "SPI 0x1000a001 embedded-icmp inconclusive" in words
    assert "log none given what the capture alone shows" in words
    assert [a["alt"] for t, a in doc.tags if t == "img"] == ["Timeline of SPI 0x1000a001"]


def test_without_matplotlib_the_report_says_so_and_has_no_plots(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from badspi_pcap.cli import main; "
            f"sys.exit(main(['analyze', {CAPTURE!r}, '-e', {LOG!r}, '--report', {str(tmp_path / 'r.html')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "warning: no plots: matplotlib is not installed (pip install 'badspi_pcap[notebook]')" in done.stderr
    doc = Elements((tmp_path / "r.html").read_text())
    assert not [t for t, _ in doc.tags if t == "img"] and "no plots: matplotlib is not installed" in doc.all_text()
    assert VERDICT in doc.all_text()


def test_report_path_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code = main(["analyze", CAPTURE, "--report", str(tmp_path / "file" / "case.html")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Error: ") and len(err.strip().splitlines()) == 1
