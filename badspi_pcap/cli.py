"""The ``badspi`` command: thin click commands over the library.

``main()`` does the error handling; each command calls one library function and prints.
Exit codes: 0 done; 1 bad input, usage or environment (one-line "Error: ..."); 2
command-line syntax (click's usage errors); 3 internal error (a bug: rerun with
--traceback and report it); 130 interrupted (SIGINT); 143 terminated (SIGTERM).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import click

from .cli_report import report_options
from .errors import BadspiError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143
# Paths are checked by the commands (exit 1 and one "Error: PATH: ..." line), not by click
# (exit 2 with the usage banner): a folder or an unreadable file is bad input, not syntax.
PATH = click.Path(readable=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--traceback", is_flag=True, help="Show the full traceback of an internal error.")
@click.version_option(package_name="badspi_pcap")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """Explain IPsec "received a packet with a bad SPI" messages from captures and logs."""
    ctx.ensure_object(dict)
    ctx.obj["traceback"] = traceback


@contextmanager
def progress_bar(total_bytes: int, what: str):
    """A bytes progress bar on stderr when it is a terminal; ``advance(n)`` per step.
    File names reach it as plain text: no rich markup, no control characters."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from .errors import printable

    console = terminal()
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(printable(what), total=total_bytes)
        yield lambda n: bar.advance(task, n), lambda text: bar.update(task, description=printable(text))


def terminal():
    """The rich console of the progress bars (stderr)."""
    from rich.console import Console
    return Console(stderr=True)


def read_captures_with_progress(paths, engine: str = "auto", jobs: int | None = None):
    """Read captures one by one with a progress bar; returns the CaptureContents list."""
    from .capture import capture_names, read_capture

    sizes = [os.path.getsize(p) if os.path.isfile(p) else 0 for p in paths]
    results = []
    with progress_bar(sum(sizes), "reading") as (advance, describe):
        for path, name in zip(paths, capture_names(paths)):
            describe(f"reading {name}")
            done = [0]

            def moved(pos, done=done):
                advance(pos - done[0])
                done[0] = pos

            results.append(read_capture(path, name=name, engine=engine, progress=moved, jobs=jobs))
    return results


def echo_skipped(results) -> None:
    for r in results:
        for s in r.skipped:
            click.echo(f"warning: {s}", err=True)


@cli.command()
@click.argument("captures", nargs=-1, required=True, type=PATH)
@report_options
@click.option("--engine", type=click.Choice(["auto", "scapy"]), default="auto", show_default=True,
              help="auto: the own fast walk for pcap and pcapng; scapy: Scapy's reader for both.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Processes per big uncompressed capture (0: one per core).")
@click.option("--replay-window", type=click.IntRange(min=0), default=32, show_default=True,
              help="Receiver's anti-replay window (packets) for the sequence table's drops.")
def packets(captures, fmt, output, engine, jobs, replay_window):
    """Read captures and summarise their IPsec packets per SA, ICMP errors and IKE.

    Prints one block per capture; -o writes the report (.txt, .json) or every
    IPsec-relevant packet of all captures as one table (.parquet, .csv, .jsonl).
    """
    import pandas as pd

    from . import schema
    from .cli_report import OUTPUT_SUFFIXES, deliver, records
    from .logs.summary import display_table
    from .output import check_outputs
    from .report.text import format_table
    from .notation import spi_text
    from .summary import icmp_summary, ike_summary, sa_summary

    check_outputs(captures, [("-o", output, OUTPUT_SUFFIXES)])
    results = read_captures_with_progress(list(captures), engine, jobs)
    blocks, report = [], {"captures": []}
    for r in results:
        p = r.packets
        sas, icmp, ike = sa_summary(p), icmp_summary(p), ike_summary(p)
        seq = sequence_view(p, replay_window)
        sas["spi"] = sas["spi"].map(spi_text)
        icmp["quoted_spi"] = icmp["quoted_spi"].map(spi_text)
        block = [capture_heading(r)]
        for title, table in (("SAs (times UTC):", sas),
                             ("Sequence numbers per SA (capture order; drops by a receiver with a "
                              f"{replay_window}-packet window):", sequence_text_view(seq, replay_window)),
                             ("ICMP errors (router, type/code/MTU, what they quote):", icmp),
                             ("IKE messages:", ike)):
            if len(table):
                block += ["", title, format_table(table)]
        blocks.append("\n".join(block) + "\n")
        report["captures"].append(dict(capture_summary(r), sas=records(sas), sequence=records(seq),
                                       icmp_errors=records(icmp), ike=records(ike),
                                       warnings=[str(s) for s in r.skipped]))
    frames = [r.packets for r in results]
    table = pd.concat(frames, ignore_index=True) if frames else schema.empty(schema.PACKETS)
    deliver("\n".join(blocks).rstrip("\n") + "\n", report, fmt, output, table, csv_view=display_table)
    echo_skipped(results)


def capture_summary(r) -> dict:
    """The heading's facts as JSON-ready values."""
    return {"capture": r.capture, "format": r.format, "compression": r.compression, "frames": r.counts.frames,
            "first_time": None if r.first_time is None else r.first_time.isoformat(),
            "last_time": None if r.last_time is None else r.last_time.isoformat(),
            "linktypes": list(r.linktypes), "rows": int(len(r.packets)),
            "rows_by_kind": {str(k): int(v) for k, v in r.packets["kind"].value_counts().items()},
            "later_fragments": r.counts.later_fragments}


def sequence_view(packets, window: int):
    """Sequence numbers per SA as printed: duplicates, late arrivals, restarts, and what a
    receiver with ``window`` drops (empty when the capture has no ESP/AH)."""
    from .sequence import sequence_summary
    from .notation import spi_text

    summary = sequence_summary(packets, window=window)
    shown = summary[["spi", "src", "dst", "packets", "duplicates", "late", "late_outside", "restarts", "max_behind",
                     "window_needed", "window", "fails"]].copy()
    shown["spi"] = shown["spi"].map(spi_text)
    return shown


def sequence_text_view(seq, window: int):
    """The sequence table as printed: the window in the column names."""
    return seq.drop(columns=["window"]).rename(columns={"late_outside": f"late>={window}", "fails": f"drops@{window}"})


def capture_heading(r) -> str:
    from .report.text import clean

    span = ""
    if r.first_time is not None:
        seconds = (r.last_time - r.first_time).total_seconds()
        span = f", {clean(r.first_time)} .. {clean(r.last_time)} UTC ({seconds:.1f} s)"
    kinds = r.packets["kind"].value_counts()
    by_kind = ", ".join(f"{k} {v}" for k, v in kinds.items()) or "none"
    links = ", ".join(r.linktypes) or "-"
    comp = f" ({r.compression})" if r.compression else ""
    return (f"== {clean(r.capture)}: {r.format}{comp}, {r.counts.frames} frames{span}; link {links}\n"
            f"   IPsec-relevant rows {len(r.packets)}: {by_kind}; later IP fragments {r.counts.later_fragments}")


VENDOR_HELP = "Read every line as this vendor or format only (default: detect per line)."


@cli.command()
@click.argument("logs", nargs=-1, required=True, type=PATH)
@click.option("--vendor", metavar="NAME", help=VENDOR_HELP)
@click.option("--year", type=int, help="Year of the first line when the log headers have none.")
@click.option("--log-tz", metavar="TZ", help="Device time zone, e.g. Europe/Berlin or +02:00 (default UTC).")
@click.option("--unparsed", "show_unparsed", is_flag=True, help="List the lines of no known format.")
@report_options
def events(logs, vendor, year, log_tz, show_unparsed, fmt, output):
    """Read gateway event logs and summarise their IPsec events per device, kind and tunnel.

    Formats are detected per line (ScreenOS syslog and get event, Junos, ASA, IOS,
    FortiOS, PAN-OS, strongSwan, libreswan, Linux audit); compressed and UTF-16 files are fine.
    """
    from .cli_report import OUTPUT_SUFFIXES, deliver, events_report
    from .logs import parse_logs
    from .logs.parse import UNPARSED_SAMPLE
    from .logs.summary import display_table, events_footer, events_summary, unparsed_lines
    from .output import check_outputs
    from .report.text import format_table

    check_outputs(logs, [("-o", output, OUTPUT_SUFFIXES)])
    result = parse_logs(list(logs), format=vendor, year=year, log_tz=log_tz)
    text = [format_table(events_summary(result.events)), *events_footer(result)]
    if show_unparsed:
        text.append("\n".join(unparsed_lines(result.unparsed)) or "(no unparsed lines)")
        if result.unparsed_count > len(result.unparsed):
            text.append(f"({result.unparsed_count - len(result.unparsed)} more not listed: the first "
                        f"{UNPARSED_SAMPLE} of each file are kept)")
    deliver("\n".join(text), events_report(result, unparsed=show_unparsed), fmt, output, result.events,
            csv_view=display_table)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=PATH)
@click.option("--vendor", metavar="NAME", help="Read the files as this table format or vendor only.")
@report_options
def sas(files, vendor, fmt, output):
    """Read SA tables (get sa, get sa id, show security ipsec sa, show crypto ipsec sa,
    swanctl --list-sas, ip xfrm state, ...) and list the SAs and non-zero counters."""
    from .cli_report import OUTPUT_SUFFIXES, deliver, sas_report
    from .logs.summary import counters_summary, display_table, sas_summary
    from .output import check_outputs
    from .report.text import format_table
    from .sas import parse_sas

    check_outputs(files, [("-o", output, OUTPUT_SUFFIXES)])
    result = parse_sas(list(files), format=vendor)
    counters = counters_summary(result.counters)
    text = [format_table(sas_summary(result.sas)),
            f"{len(result.sas)} SAs from {len(result.stats)} file{'s' if len(result.stats) != 1 else ''}, "
            f"{len(result.counters)} counters ({len(counters)} non-zero)"]
    if len(counters):
        text.append(format_table(counters))
    for s in result.skipped:
        click.echo(f"warning: {s}", err=True)
    deliver("\n".join(text), sas_report(result), fmt, output, result.sas, csv_view=display_table)


@cli.command()
@click.argument("before", type=click.Path(dir_okay=False))
@click.argument("after", type=click.Path(dir_okay=False))
@click.option("-c", "--capture", "captures", multiple=True, type=click.Path(dir_okay=False),
              help="Capture taken between the two snapshots: compare the replay counters with it.")
@click.option("--replay-window", type=click.IntRange(min=0), default=32, show_default=True,
              help="The device's anti-replay window (packets) for the comparison.")
@click.option("--device-address", "local", multiple=True, metavar="ADDR",
              help="The device's own address (default: every destination with drops).")
@report_options
def counters(before, after, captures, replay_window, local, fmt, output):
    """Drop counters taken BEFORE and AFTER (xfrm_stat, show security ipsec statistics,
    show crypto ipsec sa, get sa stat, ...): the deltas, and the replay deltas against
    what the capture shows."""
    from .cli_report import OUTPUT_SUFFIXES, deliver, records
    from .notation import spi_text
    from .sas.counters import counter_deltas, nonzero, replay_check, replay_check_text
    from .logs.summary import display_table
    from .output import check_outputs
    from .report.text import format_table
    from .sas import parse_sas

    check_outputs([before, after, *captures], [("-o", output, OUTPUT_SUFFIXES)])
    parsed = [parse_sas([path]) for path in (before, after)]
    for p in parsed:
        for s in p.skipped:
            click.echo(f"warning: {s}", err=True)
    deltas = counter_deltas(parsed[0].counters, parsed[1].counters)
    changed = nonzero(deltas)
    shown = changed[["vendor", "device", "gateway", "spi", "name", "kind", "before", "after", "delta"]].copy()
    shown["spi"] = shown["spi"].map(lambda v: spi_text(v) or "-")
    text = [f"{len(deltas)} counters in both snapshots, {len(changed)} changed:", format_table(shown)]
    report = {"counters": len(deltas), "changed": records(shown), "replay_check": []}
    if captures:
        from .capture import read_packets
        from .sequence import sequence_table

        check = replay_check(deltas, sequence_table(read_packets(list(captures)), replay_window), replay_window,
                             set(local) or None)
        text += ["", "\n".join(replay_check_text(check)) or "(no replay counter in both snapshots)"]
        report["replay_check"] = records(check)
    deliver("\n".join(text), report, fmt, output, deltas, csv_view=display_table)


ANALYSIS_OPTIONS = [
    click.option("--clock-offset", metavar="SECONDS",
                 help="Device clock minus capture clock (+37, -2h0m13s); default: estimate."),
    click.option("--log-tz", metavar="TZ",
                 help="Time zone the device logs in, e.g. Europe/Berlin or +02:00 (default UTC)."),
    click.option("--year", type=int,
                 help="Year of the log lines when their headers have none (default: from the capture)."),
    click.option("--vendor", "--log-format", "log_format", metavar="NAME",
                 help="Read the logs as this vendor or format (default: detect per line)."),
    click.option("--log-self", is_flag=True,
                 help="The device logs every bad packet (`set firewall log-self ike`): no 10 s rate limit."),
    click.option("--rate-limit", type=float,
                 help="Seconds between bad-SPI lines per tunnel (default: the vendor's documented limit, "
                      "ScreenOS 10 s; else 10 s assumed)."),
    click.option("--screenos-version", metavar="VERSION",
                 help="e.g. 5.2.0r1 (default: read from `get system` output if given)."),
    click.option("--replay-window", type=click.IntRange(min=0),
                 help="The device's anti-replay window in packets (default: an SA table's, else the vendor's)."),
]


def analysis_options(command):
    """The options analyze and batch share (how to read the logs and judge the lines)."""
    for option in reversed(ANALYSIS_OPTIONS):
        command = option(command)
    return command


def options_from(params: dict):
    """The AnalysisOptions of a command's parsed parameters."""
    from .options import AnalysisOptions
    renamed = {"rate_limit": "rate_limit_s"}
    values = {renamed.get(k, k): v for k, v in params.items()}
    return AnalysisOptions(**{k: values[k] for k in AnalysisOptions.names() if k in values})


EVIDENCE_SUFFIXES = (".pcapng", ".pcap", ".cap")  # pcapng: with comments; the others: classic pcap
CHECK_CODES = {"embedded-icmp": 10, "rekey-collision": 11, "spi-before-install": 12, "stale-sa": 13,
               "duplicated-path": 14, "reordered-beyond-window": 15, "sequence-restart": 16}
CHECK_UNEXPLAINED = 20


@cli.command()
@click.argument("captures", nargs=-1, required=True, type=PATH)
@click.option("-e", "--events", "event_files", multiple=True, type=PATH,
              help="Gateway event log (syslog, `get event`, ...); repeat for more files.")
@click.option("--sa", "sa_files", multiple=True, type=PATH,
              help="SA table output (`get sa`, `get sa id N`, ...); repeat for more files.")
@analysis_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("-o", "--output", type=PATH, help="Write the report to this file instead of stdout.")
@click.option("--evidence", type=PATH,
              help="Write the frames that prove the findings to this file: pcapng with a comment per frame "
                   "(.pcap or .cap: classic pcap, no comments).")
@click.option("--report", type=PATH,
              help="Write a self-contained HTML report (verdicts, evidence, timeline plots) to this file.")
@click.option("--check", is_flag=True, help="Exit with the code of the main cause found (see README), for scripts.")
@click.option("--engine", type=click.Choice(["auto", "scapy"]), default="auto", show_default=True)
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Processes per big uncompressed capture (0: one per core).")
def analyze(captures, event_files, sa_files, clock_offset, log_tz, year, log_format, log_self, rate_limit,
            screenos_version, replay_window, fmt, output, evidence, report, check, engine, jobs):
    """Explain the bad-SPI lines of a gateway log with the capture taken near it.

    Without --events, reports what the capture alone shows (ICMP errors quoting IPsec,
    rekeys).  The clock offset between log and capture is estimated unless given.
    """
    from .analysis import analyze as run_analysis
    from .output import atomic_path, check_outputs

    options = options_from(click.get_current_context().params)
    paths = list(captures)
    check_outputs([*paths, *event_files, *sa_files], [("-o", output, None), ("--evidence", evidence, EVIDENCE_SUFFIXES),
                                                      ("--report", report, (".html", ".htm"))])
    if evidence:   # the evidence frames are read again from the captures: a pipe gives its bytes once
        from .errors import UsageError
        for path in paths:
            if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
                raise UsageError(f"{path}: --evidence reads the captures twice, and this one is a pipe or device: "
                                 "save it to a file first")
    sizes = [os.path.getsize(p) if os.path.isfile(p) else 0 for p in paths]
    with progress_bar(sum(sizes), "reading captures") as (advance, _describe):
        last = [0]

        def moved(pos):  # position in the current capture; it restarts at each file
            if pos < last[0]:
                last[0] = 0
            advance(pos - last[0])
            last[0] = pos

        result = run_analysis(paths, list(event_files), list(sa_files), options, progress=moved, jobs=jobs)
    if fmt == "json":
        from .report.jsonout import render_json
        text = render_json(result)
    elif fmt == "markdown":
        from .report.markdown import render_markdown
        text = render_markdown(result)
    else:
        from .report.text import render_analysis
        text = render_analysis(result)
    if output:
        with atomic_path(output) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        click.echo(f"wrote the report to {output}", err=True)
    else:
        click.echo(text)
    if evidence:
        from .report.evidence_pcap import write_evidence
        from .report.html import command_line
        for path, n in write_evidence(result, evidence, command=command_line(click.get_current_context())):
            click.echo(f"wrote {n} evidence frames to {path}", err=True)
    if report:
        from .report.html import command_line, write_report
        for warning in write_report(result, report, command=command_line(click.get_current_context())):
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"wrote the HTML report to {report}", err=True)
    if check:
        raise click.exceptions.Exit(check_code(result.findings))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=PATH)
@click.option("-o", "--output", "dataset", required=True, type=PATH,
              help="Dataset folder to write; running the same command again resumes it.")
@click.option("-e", "--events", "event_files", multiple=True, type=PATH,
              help="Gateway event log for every capture (one device); repeat for more files.")
@click.option("--sa", "sa_files", multiple=True, type=PATH,
              help="SA table output for every capture; repeat for more files.")
@click.option("--map", "map_file", type=PATH,
              help="CSV: capture pattern -> events, sas, log_tz, clock_offset, year, log_self (see README).")
@analysis_options
@click.option("-j", "--jobs", type=int, help="Worker processes (default: all cores; 1: in this process).")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run on this Dask cluster (pip install 'badspi_pcap[dask]').")
@click.option("--force", is_flag=True, help="Check again the captures an earlier run already did.")
@click.option("--engine", type=click.Choice(["auto", "scapy"]), default="auto", show_default=True)
def batch(paths, dataset, event_files, sa_files, map_file, clock_offset, log_tz, year, log_format, log_self,
          rate_limit, screenos_version, replay_window, jobs, scheduler, force, engine):
    """Check many captures (files, folders, globs, tar/zip archives) into a Parquet dataset.

    Archive members are read as streams, never extracted (ARCHIVE::MEMBER names them);
    a bad file is listed with its error and the rest go on; a re-run skips the
    captures already done (same content, same logs) unless --force.
    """
    from .batch import CheckOptions, read_map, run_batch
    from .output import check_outputs
    from .report.batch_table import batch_footer, batch_table
    from .report.text import format_table

    check_outputs([*paths, *event_files, *sa_files, map_file], [("-o", dataset, "folder")])

    from dataclasses import asdict
    options = CheckOptions(events=tuple(event_files), sas=tuple(sa_files),
                           **asdict(options_from(click.get_current_context().params)))
    mapping = read_map(map_file) if map_file else None
    result = run_batch(list(paths), dataset, options=options, mapping=mapping, jobs=jobs, scheduler=scheduler,
                       force=force, progress=batch_progress)
    click.echo(format_table(batch_table(result.summary)))
    click.echo(batch_footer(result))


@contextmanager
def batch_progress(phase: str, files: int, total_bytes: int):
    """``badspi batch``'s bar: files and MB done, and an ETA that counts each file as
    well as its bytes (a small capture costs about what 8 MB of a large one do)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    per_file = 8_000_000
    console = terminal()
    columns = (TextColumn("{task.description}", markup=False), BarColumn(),
               TextColumn(f"{{task.fields[files]}}/{files} files", markup=False),
               TextColumn(f"{{task.fields[mb]:.0f}}/{total_bytes / 1e6:.0f} MB", markup=False), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(phase, total=total_bytes + per_file * files, files=0, mb=0.0)
        done = {"files": 0, "bytes": 0}

        def step(nbytes: int) -> None:
            done["files"] += 1
            done["bytes"] += nbytes
            bar.update(task, advance=nbytes + per_file, files=done["files"], mb=done["bytes"] / 1e6)

        yield step


def check_code(findings) -> int:
    """--check: the code of the first cause (in CHECK_CODES order) confirmed or likely;
    20 when lines stay unexplained or uncovered; 0 when there is nothing to explain."""
    strong = findings[findings["verdict"].isin(["confirmed", "likely"])]
    for cause, code in CHECK_CODES.items():
        if (strong["cause"] == cause).any():
            return code
    if findings["verdict"].isin(["inconclusive", "not-covered"]).any():
        return CHECK_UNEXPLAINED
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (a supervisor, ``Popen.terminate()``): stop as cleanly as on Ctrl-C."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    args = sys.argv[1:] if argv is None else argv
    # Arrow's default pool (mimalloc) keeps freed memory for reuse; the C library's returns
    # it, which lowers the peak of a big analyze by some 60 MiB at the same speed.  Set
    # before pyarrow is loaded (worker processes inherit it); a user's own choice stands.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    show_traceback = "--traceback" in args
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(args, show_traceback)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: list[str], show_traceback: bool) -> int:
    try:
        code = cli.main(args=args, prog_name="badspi", standalone_mode=False)
        if isinstance(code, int):  # click returns Exit codes instead of raising here
            return code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return EXIT_USAGE if isinstance(e, click.UsageError) else EXIT_ERROR
    except click.exceptions.Abort as e:   # click turns KeyboardInterrupt into Abort
        if isinstance(e.__cause__, Terminated):
            click.echo("Terminated.", err=True)
            return EXIT_TERMINATED
        click.echo("Aborted.", err=True)
        return EXIT_INTERRUPTED
    except BadspiError as e:
        click.echo(f"Error: {e}", err=True)
        return EXIT_ERROR
    except Terminated:
        click.echo("Terminated.", err=True)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as e:
        if e.errno is None or show_traceback:   # not the system's word on a file: a bug
            return _internal(e, show_traceback)
        # The environment, not the input: a full disk, a read-only folder, permissions.
        from .errors import os_error_text, printable
        where = f"{printable(str(e.filename))}: " if e.filename else ""
        click.echo(f"Error: {where}{os_error_text(e)}", err=True)
        return EXIT_ERROR
    except Exception as e:  # a bug: say so plainly, traceback on request
        return _internal(e, show_traceback)
    return EXIT_OK


def _internal(e: Exception, show_traceback: bool) -> int:
    if show_traceback:
        raise e
    click.echo(f"Internal error: {type(e).__name__}: {e} (rerun with --traceback and report it)", err=True)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
