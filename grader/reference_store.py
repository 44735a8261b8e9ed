"""Reference results on disk: computed once, then read back by every later ``grade check`` and ``grade watch``.

A module's expected results (and the results of its catalogued mistakes and its conditioning slack, both
computed only when a check fails) depend only on the module's hidden suite, its reference solution, its
mistake catalogue, the grader's own code, the kit and torch versions and the device. They are stored per
module in one file whose name holds a hash of all of these, so any change makes a new file (the old ones of
that module are removed) and nothing stale is ever read.

The folder is ``$GRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/pytorch-exercise-kit``, else
``~/.cache/pytorch-exercise-kit``; it is safe to delete, and ``GRADE_CACHE_DIR=off`` turns the store off.
Files are read as data (``wire.loads_untrusted``: tensors and literals, never code). Only the student's loop
uses the store: batch grading, Gradescope and the pytest plugin compute references afresh, so instructor
grading never trusts a file that a student's account could have written.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

import torch

import grader
from grader import catalogue, wire

CACHE_ENV = "GRADE_CACHE_DIR"
MAX_FILE_BYTES = 256 * 2**20  # a module's results are a few MB; anything larger is not ours


def default_folder() -> Path | None:
    """Where the store lives, or None when ``GRADE_CACHE_DIR=off``."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("off", "0", "") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytorch-exercise-kit"


class ReferenceStore:
    """Per module and device, the reference side's results as data, under a key of everything they depend on."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._keys: dict[tuple[str, str], str] = {}

    def load(self, module: str, device: torch.device) -> dict[str, object]:
        """The stored results of ``module`` on ``device`` by name; empty when there are none or they are unreadable."""
        path = self._path(module, device)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                return {}
            stored = wire.loads_untrusted(path.read_bytes())
            if type(stored) is not dict:
                return {}
            return {str(name): wire.Decoder().decode(node) for name, node in stored.items()}
        except (OSError, wire.ProtocolError, ValueError, TypeError, KeyError):
            return {}

    def save(self, module: str, device: torch.device, values: dict[str, object]) -> None:
        """Write ``values`` (name -> result) atomically, and remove the module's files under older keys.

        A folder that cannot be written only costs the speed-up: grading never fails for it.
        """
        path = self._path(module, device)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            payload = wire.dumps({name: wire.encode_data(value) for name, value in values.items()})
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.")
            with os.fdopen(handle, "wb") as out:
                out.write(payload)
            os.replace(temporary, path)
            for old in self.folder.glob(f"{module}-{_device_tag(device)}-*.pt"):
                if old != path:
                    old.unlink(missing_ok=True)
        except (OSError, wire.ProtocolError, TypeError, ValueError):
            return

    def _path(self, module: str, device: torch.device) -> Path:
        key = self._keys.get((module, str(device)))
        if key is None:
            key = self._keys[(module, str(device))] = module_key(module, device)
        return self.folder / f"{module}-{_device_tag(device)}-{key}.pt"


def module_key(module: str, device: torch.device) -> str:
    """A hash of everything a module's reference results depend on."""
    digest = hashlib.sha256()
    for part in (grader.__version__, torch.__version__, sys.version, str(device), module, _grader_digest()):
        digest.update(part.encode() + b"\0")
    _hash_files(digest, [catalogue.SUITES_DIR / f"{module}.py", catalogue.SOLUTIONS_DIR / f"{module}.py",
                         catalogue.SUITES_DIR / "mistakes" / f"{module}.py"])
    return digest.hexdigest()[:32]


@functools.cache
def _grader_digest() -> str:
    """The hash of the grader's own code, read once per process (every module's key includes it)."""
    digest = hashlib.sha256()
    _hash_files(digest, sorted(Path(grader.__file__).resolve().parent.glob("*.py")))
    return digest.hexdigest()


def _hash_files(digest: hashlib._Hash, paths: list[Path]) -> None:
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<absent>")


def _device_tag(device: torch.device) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", str(device))
