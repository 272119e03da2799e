"""Is this the start of a log?  For a log handed over where a capture was expected."""
from __future__ import annotations

from . import exports

LINES_TO_TRY = 20


def log_format_of(head: bytes) -> str | None:
    """The log format (or export layout) the first complete lines of ``head`` are in, or
    None when none of them is a known log line."""
    from .parse import FORMATS, _classify  # parse imports the capture side indirectly: import late

    text = head.decode("utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8", "replace")
    lines = [line for line in text.splitlines()[:-1] or text.splitlines() if line.strip()][:LINES_TO_TRY]
    if not lines:
        return None
    header = exports._csv_header(lines[0]) or (exports._json_layout(lines[0]),)
    if header[0]:
        return header[0]
    for line in lines:
        inner = exports.unwrap_5424(line)
        try:
            found = _classify(inner[0] if inner else line, FORMATS, None, {})
        except Exception:  # a parser's bug must not turn "not a capture" into a crash
            continue
        if found is not None:
            return found[1].name
    return None
