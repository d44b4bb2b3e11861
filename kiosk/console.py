"""Console text that never kills the process writing it.

Python encodes ``sys.stdout`` and ``sys.stderr`` in the console's encoding, strictly:
- Windows writes to a console window through its wide-character call, so any text shows;
  but a pipe or a file (the guardian's stdout when a script or a service runs it, a
  redirected ``main.py check``) takes the ANSI code page, cp1252 on a Western Windows, which
  has no bytes for 模拟后台: ``print`` raised UnicodeEncodeError and the guardian died with
  its simulator still running (seen under Wine, whose code page follows the Linux locale:
  cp1252 for ``C``);
- a Linux terminal or pipe under the ``C``/POSIX locale may be ASCII, or whatever
  ``PYTHONIOENCODING`` says;
- ``pythonw`` and the windowed ``kiosk.exe`` have no console: ``sys.stdout`` and
  ``sys.stderr`` are None and ``print`` writes nothing (the log file has every line).

So every entry point calls ``make_safe`` first: a character the stream cannot carry is
written as its escape (``\\u6a21``) instead of raising, and the rest of the line is kept.
"""

from __future__ import annotations

import sys

ERRORS = "backslashreplace"


def make_safe() -> None:
    """Standard output and error write what their encoding cannot carry as escapes."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # None: no console at all
        if reconfigure is not None:
            reconfigure(errors=ERRORS)
