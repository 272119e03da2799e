"""`badspi --help` and the package import stay light: pandas, pyarrow, NumPy and Scapy are
imported by the commands that use them, not by the command line itself."""
import subprocess
import sys

HEAVY = ("pandas", "pyarrow", "numpy", "scapy", "matplotlib")


def modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_help_imports_nothing_heavy():
    loaded = modules_after("import sys\nsys.argv = ['badspi', '--help']\nfrom badspi_pcap.cli import main\n"
                           "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert not {m.split('.')[0] for m in loaded} & set(HEAVY)


def test_public_names_load_on_first_use():
    import badspi_pcap
    loaded = modules_after("import badspi_pcap")
    assert not {m.split('.')[0] for m in loaded} & set(HEAVY)
    assert set(badspi_pcap.__all__) <= set(dir(badspi_pcap))
    for name in badspi_pcap.__all__:
        assert getattr(badspi_pcap, name) is not None, name
    assert badspi_pcap.schema.PACKETS is not None   # a submodule by attribute
