"""Find the submissions in an instructor's folder and make a safe private copy of each.

Each entry of the folder is one submission: a sub-folder or a ``.zip``. Inside, the exercise
modules (``exNN_topic.py``) may sit at the top, under ``exercises/``, or one folder deeper (a zip
of a folder named after the student). Only exercise modules are copied; nothing is ever followed
through a symlink, and a zip entry that would land outside its folder rejects the submission.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MODULE_PATTERN = re.compile(r"^ex\d\d_[A-Za-z0-9_]+\.py$")
MAX_MODULE_BYTES = 1 << 20
MAX_ZIP_ENTRIES = 5000
MAX_ZIP_BYTES = 200 * 2**20


class Rejected(Exception):
    """The submission cannot be graded; the message says why and what the student should do."""


@dataclass
class Submission:
    """One entry of the submissions folder."""

    name: str
    source: Path

    @property
    def is_zip(self) -> bool:
        return self.source.suffix.lower() == ".zip" and self.source.is_file()


@dataclass
class PreparedSubmission:
    name: str
    folder: Path
    modules: list[str] = field(default_factory=list)


def discover(folder: Path) -> list[Submission]:
    """The submissions in ``folder``, sorted by name (hidden entries and loose files are skipped)."""
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() or entry.is_dir():
            found[entry.name] = Submission(entry.name, entry)
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            name = entry.name[: -len(".zip")]
            if name in found:
                name = entry.name
            found[name] = Submission(name, entry)
    return [found[name] for name in sorted(found)]


def safe_name(name: str) -> str:
    """A file-system-safe version of a submission name, for report file names."""
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]+", "_", name).strip("._") or "submission"
    return cleaned[:120]


def prepare(submission: Submission, destination: Path) -> PreparedSubmission:
    """Copy the submission's exercise modules into ``destination`` (created, must be empty).

    Raises:
        Rejected: symlinked entry or module, unsafe zip paths, duplicated modules, binary or
            non-UTF-8 modules, oversized archives.
    """
    destination.mkdir(parents=True, exist_ok=False)
    if submission.source.is_symlink():
        raise Rejected("the submission itself is a symbolic link; submit a folder or a .zip")
    files = _zip_files(submission.source) if submission.is_zip else _folder_files(submission.source)
    chosen = _choose_modules(files)
    for module_name, data in chosen.items():
        (destination / module_name).write_bytes(data)
    return PreparedSubmission(submission.name, destination, sorted(m[:-3] for m in chosen))


def _folder_files(root: Path) -> dict[PurePosixPath, bytes | None]:
    """Relative path -> content for candidate modules up to two levels deep (None: refused)."""
    files: dict[PurePosixPath, bytes | None] = {}
    for depth_glob in ("*.py", "*/*.py", "*/*/*.py"):
        for path in root.glob(depth_glob):
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if not MODULE_PATTERN.match(path.name):
                continue
            prefixes = [root.joinpath(*relative.parts[:depth]) for depth in range(1, len(relative.parts) + 1)]
            if any(prefix.is_symlink() for prefix in prefixes):
                raise Rejected(f"{relative} is (or lies in) a symbolic link; submit the files themselves")
            if not path.is_file():
                continue
            if path.stat().st_size > MAX_MODULE_BYTES:
                raise Rejected(f"{relative} is larger than {MAX_MODULE_BYTES // 1024} KiB")
            files[relative] = path.read_bytes()
    return files


def _zip_files(archive: Path) -> dict[PurePosixPath, bytes | None]:
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise Rejected(f"{archive.name} is not a readable zip file ({error})") from None
    with bundle:
        entries = bundle.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise Rejected(f"the zip has {len(entries)} entries (limit {MAX_ZIP_ENTRIES})")
        if sum(e.file_size for e in entries) > MAX_ZIP_BYTES:
            raise Rejected(f"the zip unpacks to more than {MAX_ZIP_BYTES // 2**20} MiB")
        files: dict[PurePosixPath, bytes | None] = {}
        for entry in entries:
            name = entry.filename.replace("\\", "/")
            path = PurePosixPath(name)
            if name.startswith("/") or path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
                raise Rejected(f"the zip entry {entry.filename!r} points outside its folder")
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise Rejected(f"the zip entry {entry.filename!r} is a symbolic link")
            if entry.is_dir() or "__MACOSX" in path.parts or not MODULE_PATTERN.match(path.name):
                continue
            if len(path.parts) > 3:
                continue
            if entry.file_size > MAX_MODULE_BYTES:
                raise Rejected(f"{name} is larger than {MAX_MODULE_BYTES // 1024} KiB")
            files[path] = bundle.read(entry)
        return files


def _choose_modules(files: dict[PurePosixPath, bytes | None]) -> dict[str, bytes]:
    """Pick the folder that holds the modules (top, exercises/, or one deeper) and check them."""
    by_folder: dict[PurePosixPath, dict[str, bytes]] = {}
    for path, data in files.items():
        by_folder.setdefault(path.parent, {})[path.name] = data or b""
    if not by_folder:
        return {}
    preferred = [folder for folder in by_folder if _rank(folder) is not None]
    if not preferred:
        return {}
    best_rank = min(_rank(folder) for folder in preferred)
    candidates = [folder for folder in preferred if _rank(folder) == best_rank]
    if len(candidates) > 1:
        names = ", ".join(sorted(str(c) for c in candidates))
        raise Rejected(f"exercise modules found in several folders ({names}); keep one copy")
    chosen = by_folder[candidates[0]]
    for folder in preferred:
        if folder != candidates[0]:
            duplicated = sorted(set(by_folder[folder]) & set(chosen))
            if duplicated:
                raise Rejected(f"{duplicated[0]} appears twice ({candidates[0] / duplicated[0]} and "
                               f"{folder / duplicated[0]}); keep one copy")
    for module_name, data in chosen.items():
        if b"\x00" in data:
            raise Rejected(f"{module_name} is a binary file, not Python source")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(f"{module_name} is not UTF-8 text; save it as UTF-8") from None
    return chosen


def _rank(folder: PurePosixPath) -> int | None:
    """0: top level, 1: exercises/, 2: one folder deeper, 3: <folder>/exercises/; None: elsewhere."""
    parts = folder.parts
    if parts in ((), (".",)):
        return 0
    if parts == ("exercises",):
        return 1
    if len(parts) == 1:
        return 2
    if len(parts) == 2 and parts[1] == "exercises":
        return 3
    return None


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
