"""Unified diffs that are valid patches: `git apply` and `patch -p1` take them as they are.

difflib alone leaves out what a patch needs at the edges: the ``\\ No newline at end of file``
marker after a last line without a newline, and ``/dev/null`` for a file that is added or
removed."""

from __future__ import annotations

import difflib

_NO_EOL = "\\ No newline at end of file\n"


def _lines(data: bytes) -> list[str]:
    return data.decode(errors="replace").splitlines(keepends=True)


def unified(have: bytes | None, want: bytes | None, path: str) -> str:
    """The patch turning ``have`` into ``want`` for ``path`` (relative, as in a/ and b/);
    None on a side means the file does not exist there. Empty when nothing changes."""
    if have == want:
        return ""
    old = f"a/{path}" if have is not None else "/dev/null"
    new = f"b/{path}" if want is not None else "/dev/null"
    out: list[str] = []
    for line in difflib.unified_diff(_lines(have or b""), _lines(want or b""), old, new):
        if line.endswith("\n"):
            out.append(line)
        else:  # a last line without a newline: end it, and say so as patch(1) does
            out += [line + "\n", _NO_EOL]
    if have is None or want is None:
        mode = "new file mode 100644" if have is None else "deleted file mode 100644"
        return f"diff --git a/{path} b/{path}\n{mode}\n" + "".join(out)
    return f"diff --git a/{path} b/{path}\n" + "".join(out)
