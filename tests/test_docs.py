"""The README documents every command, every option of analyze, and every table column."""
import re

import pytest

from badspi_pcap import schema
from badspi_pcap.cli import cli
from badspi_pcap.diagnosis import FINDING_COLUMNS
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


def _outside_parentheses(text: str) -> str:
    """The text with every parenthesised aside removed: values and examples live there."""
    out, depth = [], 0
    for ch in text:
        depth += ch == "("
        if depth == 0:
            out.append(ch)
        depth -= ch == ")" and depth > 0
    return "".join(out)


def _listed_columns(paragraph: str) -> list[str]:
    """The names of the backticked, comma-separated column lists of a README paragraph."""
    spans = re.findall(r"`([a-z][a-z0-9_]*(?:,\s+[a-z][a-z0-9_]*)*),?`", _outside_parentheses(paragraph))
    return [name for span in spans for name in re.split(r",\s+", span)]


def _readme_tables() -> dict[str, str]:
    """Table name -> its paragraph: the ``**name** — …`` paragraphs of "## Tables", and the
    batch ``summary`` columns."""
    tables = README.split("\n## Tables\n")[1].split("\n## ")[0] + "\n\n"
    found = dict(re.findall(r"^\*\*(\w+)\*\* — (.*?)(?=\n\n)", tables, re.S | re.M))
    # what follows "The JSON report" is the report's, not the table's
    found["findings"] = re.split(r"The JSON\s+report", found["findings"])[0]
    found["summary"] = re.search(r"`summary`\ncolumns: (.*?)(?=\n\n)", README, re.S)[1]
    return found


def test_readme_column_lists_are_exactly_the_schemas():
    """Each table's README column list names every column of its schema and nothing else,
    so a renamed, added or dropped column fails here until the README says so."""
    from badspi_pcap.batch import SUMMARY
    readme = _readme_tables()
    event_columns = set(schema.EVENTS.names)
    expected = {"packets": schema.PACKETS.names, "events": schema.EVENTS.names, "sas": schema.SAS.names,
                "matches": schema.MATCHES.names, "findings": FINDING_COLUMNS, "summary": SUMMARY.names,
                # lines: the events columns (said as such) plus its own
                "lines": [n for n in schema.LINES.names if n not in event_columns]}
    assert set(readme) == set(expected)
    for table, columns in expected.items():
        listed = _listed_columns(readme[table])
        assert sorted(set(listed) - set(columns)) == [], f"{table}: listed in the README, not in the schema"
        assert sorted(set(columns) - set(listed)) == [], f"{table}: in the schema, not listed in the README"
