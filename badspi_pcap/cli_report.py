"""How every command hands back its report: ``--format text|json`` and ``-o FILE``.

``-o`` is chosen by the file's suffix: ``.txt`` or ``.json`` write the report (text or
JSON), ``.parquet``, ``.csv`` or ``.jsonl`` the command's full table.  Without ``-o`` the
report goes to stdout in ``--format``.  Tables in CSV show SPIs as ``0x%08x`` (what people
search for) and tunnel ids as the vendor prints them; Parquet and JSON Lines keep the
typed values.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import UsageError
from .output import FORMATS as TABLE_SUFFIXES
from .output import atomic_path, output_format, write_table

if TYPE_CHECKING:  # imported where used, so that `badspi --help` stays light
    import pandas as pd

REPORT_SUFFIXES = {".txt": "text", ".json": "json"}
OUTPUT_SUFFIXES = tuple(REPORT_SUFFIXES) + tuple(TABLE_SUFFIXES)   # what -o may end in


def report_options(command):
    """``--format`` and ``-o`` for a command that has a report and a table."""
    command = click.option(
        "-o", "--output", type=click.Path(readable=False),   # checked by the command (exit 1)
        help="Write to this file, by its suffix: .txt or .json the report; .parquet, .csv or .jsonl the full table.",
    )(command)
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                        help="Report format.")(command)


def records(frame: pd.DataFrame) -> list[dict]:
    """A table as JSON-ready rows (times ISO 8601, nulls None)."""
    if frame.empty:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="ns"))


def deliver(text: str, report: dict, fmt: str, output: str | None, table: pd.DataFrame | None,
            csv_view=None) -> None:
    """Print or write the report, or write the table (see the module docstring)."""
    rendered = json.dumps(report, indent=2, ensure_ascii=False) if fmt == "json" else text
    if output is None:
        click.echo(rendered)
        return
    suffix = Path(output).suffix.lower()
    if suffix in REPORT_SUFFIXES:
        content = json.dumps(report, indent=2, ensure_ascii=False) if suffix == ".json" else text
        with atomic_path(output) as tmp:
            Path(tmp).write_text(content + "\n", encoding="utf-8")
        click.echo(f"wrote the report to {output}", err=True)
        return
    if suffix not in TABLE_SUFFIXES:
        names = ", ".join(sorted(set(TABLE_SUFFIXES) | set(REPORT_SUFFIXES)))
        raise UsageError(f"cannot tell the output format from {output!r}: use a name ending in {names}")
    click.echo(rendered)
    if output_format(output) == "csv" and csv_view is not None:
        write_table(csv_view(table), output)
    else:
        write_table(table, output)
    # on stderr when stdout holds JSON, so that it stays one JSON document
    click.echo(f"wrote {len(table)} rows to {output}", err=fmt == "json")


def events_report(result, *, unparsed: bool = False) -> dict:
    """``badspi events --format json``: the summary, the files read and what was assumed."""
    from .logs.summary import events_summary
    summary = events_summary(result.events).rename(columns={"first (UTC)": "first_utc", "last (UTC)": "last_utc"})
    report = {"events": int(len(result.events)), "summary": records(summary),
              "files": records(result.stats), "notes": list(result.notes),
              "warnings": [str(s) for s in result.skipped]}
    if unparsed:
        report["unparsed"] = records(result.unparsed)
    return report


def sas_report(result) -> dict:
    """``badspi sas --format json``: the SAs, the non-zero counters and the files read."""
    from .logs.summary import counters_summary, sas_summary
    return {"sas": records(sas_summary(result.sas)), "counters": records(counters_summary(result.counters)),
            "counters_total": int(len(result.counters)), "files": records(result.stats),
            "warnings": [str(s) for s in result.skipped]}
