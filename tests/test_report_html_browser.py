"""The HTML report in a real headless browser (Debian's chromium): it renders the verdict
and a plot that decodes, with the network off; hostile log text stays inert.

The report itself allows no script (its Content-Security-Policy), so a small page of the
test's own loads it in a frame and writes what the browser made of it (visible text,
image sizes, elements) into its own DOM, which ``--dump-dom`` prints.  Skipped on a
machine without chromium; in CI (CI set) a missing chromium is a failure."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import require_matplotlib

require_matplotlib()
from report_cases import HOSTILE_NAME, PAYLOAD, hostile_log, report  # noqa: E402

PROBE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<iframe id="report" src="case.html" style="width:1280px;height:2000px"></iframe><pre id="result">pending</pre>
<script>
window.addEventListener("load", () => {
  const doc = document.getElementById("report").contentDocument;
  const out = {title: doc.title, text: doc.body.innerText,
    images: [...doc.images].map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight})),
    scripts: doc.querySelectorAll("script").length, svgs: doc.querySelectorAll("svg").length,
    handlers: [...doc.querySelectorAll("*")].filter(e => [...e.attributes].some(a => a.name.startsWith("on"))).length,
    pwned: doc.documentElement.outerHTML.includes("PWNED") && doc.title.includes("PWNED")};
  document.getElementById("result").textContent = JSON.stringify(out);
});
</script></body></html>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
    pytest.skip("chromium not installed")


def run_chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
           "--disable-extensions", "--mute-audio", f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def rendered(tmp_path) -> dict:
    """What the browser shows of tmp_path/case.html."""
    (tmp_path / "probe.html").write_text(PROBE)
    out = run_chromium(tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom",
                       (tmp_path / "probe.html").as_uri())
    m = re.search(r'<pre id="result">(.*?)</pre>', out.stdout, re.S)
    assert m and m.group(1) != "pending", out.stdout[-2000:] + out.stderr[-2000:]
    import html
    return json.loads(html.unescape(m.group(1)))


def test_browser_renders_the_verdict_and_the_plots(tmp_path):
    report(tmp_path)
    seen = rendered(tmp_path)
    assert "Verdict: tunnel 0x67: not covered by the capture (2 lines); tunnel 0x9a: embedded-icmp CONFIRMED" \
        in seen["text"]
    assert [i["alt"] for i in seen["images"]] == ["Timeline of tunnel 0x9a", "Clock offset histogram"]
    for img in seen["images"]:
        assert img["complete"] and img["w"] > 700 and img["h"] > 300, img
    assert seen["scripts"] == 0 and seen["handlers"] == 0


def test_browser_screenshot_shows_the_plot(tmp_path):
    report(tmp_path)
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}",
                 (tmp_path / "case.html").as_uri())
    import matplotlib.image as mpimg
    import numpy as np
    pixels = (mpimg.imread(shot)[:, :, :3] * 255).round().astype(int)
    assert pixels.shape[:2] == (2400, 1280)
    colors = {tuple(c) for c in pixels.reshape(-1, 3)[::7]}
    assert len(colors) > 200                      # text, badges and a plot, not a blank page
    def near(rgb, tol=12):
        return int((np.abs(pixels - np.array(rgb)).max(axis=2) <= tol).sum())
    assert near((0xb3, 0x26, 0x1e)) > 200         # the CONFIRMED badge and headline bar
    assert near((0x1f, 0x77, 0xb4)) > 200         # the outbound SPI's rate line in the timeline
    assert near((0xd6, 0x27, 0x28)) > 50          # ICMP errors and BAD SPI diamonds


def test_browser_keeps_hostile_log_text_inert(tmp_path):
    report(tmp_path, log=hostile_log(tmp_path))
    seen = rendered(tmp_path)
    assert not seen["pwned"] and "PWNED" not in seen["title"]
    assert seen["scripts"] == 0 and seen["svgs"] == 0 and seen["handlers"] == 0
    assert PAYLOAD in seen["text"] and HOSTILE_NAME in seen["text"]
    assert [i["alt"] for i in seen["images"]] == ["Timeline of tunnel 0x9a", "Clock offset histogram"]
