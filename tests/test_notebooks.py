"""The notebooks in notebooks/ run from top to bottom (nbclient, a real kernel) in a
temporary folder, and are committed without outputs.  The batch notebook reads a
dataset made here by ``badspi batch`` over a few lab captures with their logs."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from badspi_pcap.cli import main
from conftest import FIXTURES

NOTEBOOKS = FIXTURES.parent / "notebooks"
NAMES = ["walkthrough", "batch-results"]


def require_nbclient():
    try:
        import matplotlib  # noqa: F401
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e.name} is required in CI (.ci/run installs the notebook extra)")
        pytest.skip(f"{e.name} not installed: pip install -e '.[notebook]'")


def execute(name: str, folder, extra_cells=()) -> tuple[object, float]:
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    book.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    started = time.monotonic()
    NotebookClient(book, timeout=180, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return book, time.monotonic() - started


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_without_outputs(name):
    book = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    code = [c for c in book["cells"] if c["cell_type"] == "code"]
    assert code
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"][:80]
    assert book["metadata"]["kernelspec"]["name"] == "python3"


def test_walkthrough_runs(tmp_path, monkeypatch):
    require_nbclient()
    monkeypatch.setenv("BADSPI_ROOT", str(FIXTURES.parent))
    book, seconds = execute("walkthrough", tmp_path)
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 4                          # offset histogram and three timelines
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Cause: <strong>embedded-icmp</strong>" in h for h in html)   # the Analysis shows itself
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "+37.0 s (device clock minus capture clock" in printed
    print(f"walkthrough: {seconds:.1f} s")


def test_batch_results_runs_on_a_batch_dataset(tmp_path, monkeypatch, capsys):
    require_nbclient()
    labs, logs = FIXTURES / "pcaps" / "lab", FIXTURES / "logs"
    mapping = tmp_path / "map.csv"
    mapping.write_text("capture,events,log_tz\n"
                       f"icmp-net-unreach.pcap,{logs}/icmp-net-unreach/screenos-syslog.log,Europe/Berlin\n"
                       f"ikev2-rekey.pcap,{logs}/ikev2-rekey/screenos-syslog.log,Australia/Adelaide\n"
                       f"spi-mismatch.pcap,{logs}/spi-mismatch/screenos-syslog.log,America/Los_Angeles\n")
    dataset = tmp_path / "dataset"
    captures = [str(labs / n) for n in ("icmp-net-unreach.pcap", "ikev2-rekey.pcap", "spi-mismatch.pcap",
                                        "natt.pcap", "ipv6.pcap")]
    assert main(["batch", *captures, "--map", str(mapping), "-o", str(dataset), "-j", "1"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("BADSPI_ROOT", str(FIXTURES.parent))
    monkeypatch.setenv("BADSPI_DATASET", str(dataset))
    book, seconds = execute("batch-results", tmp_path)
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3
    assert not (tmp_path / "batch-out").exists()     # it read the dataset it was given
    print(f"batch-results: {seconds:.1f} s")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """badspi_pcap installed as the README's quick start does (``pip install .``, not
    editable), into a folder of its own; built from a copy so the clone stays clean."""
    root = tmp_path_factory.mktemp("installed")
    repo = FIXTURES.parent
    shutil.copytree(repo / "badspi_pcap", root / "src" / "badspi_pcap", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(repo / name, root / "src" / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", str(root / "site"), str(root / "src")], check=True, capture_output=True)
    return root / "site"


def test_notebooks_run_from_a_clone_against_a_non_editable_install(installed, tmp_path, monkeypatch):
    require_nbclient()
    clone = tmp_path / "clone"
    (clone / "notebooks").mkdir(parents=True)
    (clone / "fixtures").symlink_to(FIXTURES)
    monkeypatch.delenv("BADSPI_ROOT", raising=False)
    monkeypatch.delenv("BADSPI_DATASET", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(installed))        # the kernel imports the installed copy only
    for name in NAMES:
        book, seconds = execute(name, clone / "notebooks", ["print(bp.__file__)"])
        printed = book.cells[-1].outputs[0]["text"].strip()
        assert printed.startswith(str(installed)), printed
        print(f"{name} on a non-editable install: {seconds:.1f} s")
    assert (clone / "notebooks" / "batch-out" / "summary").is_dir()   # made where a user's run makes it
