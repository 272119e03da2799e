"""The ``badspi`` command: thin click commands over the library.

``main()`` does the error handling; each command calls one library function and prints.
Exit codes: 0 done; 1 bad input or usage (one-line "Error: ..."); 2 command-line syntax
(click's usage errors); 3 internal error (a bug: rerun with --traceback and report it);
130 interrupted.
"""
from __future__ import annotations

import sys

import click

from .errors import BadspiError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--traceback", is_flag=True, help="Show the full traceback of an internal error.")
@click.version_option(package_name="badspi_pcap")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """Explain IPsec "received a packet with a bad SPI" messages from captures and logs."""
    ctx.ensure_object(dict)
    ctx.obj["traceback"] = traceback


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    show_traceback = "--traceback" in args
    try:
        cli.main(args=args, prog_name="badspi", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return EXIT_USAGE if isinstance(e, click.UsageError) else EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_INTERRUPTED
    except BadspiError as e:
        click.echo(f"Error: {e}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # a bug: say so plainly, traceback on request
        if show_traceback:
            raise
        click.echo(f"Internal error: {type(e).__name__}: {e} (rerun with --traceback and report it)", err=True)
        return EXIT_INTERNAL
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
