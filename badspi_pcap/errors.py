"""The project's own exceptions and the record of what was skipped.

Library code raises only ``BadspiError`` subclasses for bad user input; the CLI turns
them into one-line "Error: ..." messages.  Damage that does not stop the work (a
truncated last record, a garbage log line) is not an exception: it is counted in a
``Skipped`` record so that nothing is lost silently.

Both name files and quote their content, which come from customers: their ``str()``
(what a terminal shows) has control characters, escape sequences included, replaced.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls but tab and newline


QUOTED_BYTES = re.compile(r"[;,]? *\(?it starts with [0-9a-f]{2}(?: [0-9a-f]{2})*\)?")


def without_content(text: str) -> str:
    """``text`` without the bytes a message quotes ('...; it starts with 72 6f 6f 74'): for
    files the user did not name (found in folders and archives), whose content stays out
    of datasets and terminals."""
    return QUOTED_BYTES.sub("", text)


def printable(text: str) -> str:
    """``text`` with control characters (terminal escape sequences too) replaced by '?'."""
    return CONTROL.sub("?", text)


class BadspiError(Exception):
    """Base class of every error the project raises on purpose."""

    def __str__(self) -> str:
        return printable(super().__str__())


class InputError(BadspiError):
    """A file cannot be read at all (missing, empty, not a capture or log, wrong format)."""


class UsageError(BadspiError):
    """The call itself is wrong (bad option value, conflicting options)."""


class OutputError(BadspiError):
    """An output cannot be written: permissions, a read-only filesystem, a full disk."""


def os_error_text(e: OSError) -> str:
    """'no space left on device' from an OSError (its strerror, lower case)."""
    text = e.strerror or str(e) or type(e).__name__
    return text[:1].lower() + text[1:]


@dataclass(frozen=True)
class Skipped:
    """Something in an input that was not used, and why.

    ``where`` points into the source (``frame 12``, ``offset 0x1f40``, ``line 7``);
    ``count`` lets one record stand for many identical skips.
    """

    source: str
    where: str
    reason: str
    count: int = 1

    def __str__(self) -> str:
        times = f" ({self.count}x)" if self.count > 1 else ""
        return printable(f"{self.source}: {self.where}: {self.reason}{times}")
