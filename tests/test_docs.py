"""The README documents every command, every option of analyze, and every table column."""
import re

import pytest

from badspi_pcap import schema
from badspi_pcap.cli import cli
from badspi_pcap.diagnose import FINDING_COLUMNS
from conftest import FIXTURES

README = (FIXTURES.parent / "README.md").read_text()


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command):
    assert f"`badspi {command} " in README


def test_every_analyze_option_is_documented():
    for param in cli.commands["analyze"].params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert f"`{opt}" in README or f"{opt} " in README, opt


@pytest.mark.parametrize("columns", [schema.PACKETS.names, schema.EVENTS.names, schema.SAS.names[:12],
                                     FINDING_COLUMNS, schema.MATCHES.names, schema.LINES.names],
                         ids=["packets", "events", "sas", "findings", "matches", "lines"])
def test_every_column_is_documented(columns):
    for name in columns:
        assert re.search(rf"\b{name}\b", README), name


def test_readme_gives_exactly_two_setup_commands():
    quick = README.split("## Quick start")[1].split("## Commands")[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick, re.S)
    assert len(blocks) == 2 and all(b.count("\n") == 1 for b in blocks)
    assert "badspi analyze fixtures/" in blocks[0]
    assert "pytest" in blocks[1]
