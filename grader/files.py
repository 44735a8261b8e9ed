"""Removing what a worker may have left behind, whatever its modes; never raises."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from collections.abc import Callable


def remove_tree(path: str | os.PathLike[str]) -> bool:
    """Remove ``path`` (a folder and everything under it, or a file); never raises. True when it is gone.

    A worker may leave read-only files or directories with mode 000: a step that fails makes its
    directory accessible (never through a symbolic link) and is tried again once. What still cannot
    be removed is left where it is.
    """
    root = os.fspath(path)
    if os.path.islink(root) or (os.path.lexists(root) and not os.path.isdir(root)):
        with contextlib.suppress(OSError):
            os.unlink(root)
        return not os.path.lexists(root)
    tried: set[str] = set()

    def retry(_function: object, failed: str, _error: object) -> None:
        if failed in tried:
            return
        tried.add(failed)
        with contextlib.suppress(OSError):
            if failed != root:
                _make_accessible(os.path.dirname(failed))
            if os.path.isdir(failed) and not os.path.islink(failed):
                _make_accessible(failed)
                _rmtree(failed, retry)
            else:
                os.unlink(failed)

    with contextlib.suppress(OSError):
        _make_accessible(root)
        _rmtree(root, retry)
    return not os.path.lexists(root)


def _make_accessible(folder: str) -> None:
    if not os.path.islink(folder):
        os.chmod(folder, stat.S_IRWXU)


def _rmtree(path: str, handler: Callable[[object, str, object], None]) -> None:
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=handler)
    else:
        shutil.rmtree(path, onerror=handler)
