"""Find the submissions in an instructor's folder and make a safe private copy of each.

Each entry of the folder is one submission: a sub-folder or a ``.zip``. Inside, the exercise
modules (``exNN_topic.py``) may sit at the top, under ``exercises/``, or one folder deeper (a zip
of a folder named after the student). Only exercise modules are copied; nothing is ever followed
through a symlink, and a zip entry that would land outside its folder rejects the submission.

The bulk downloads of Canvas and Moodle (see :mod:`grader.lms`) are understood too, in the same folder: their
files are grouped by student, one submission each, named and identified as the LMS names them, and the
latest upload of each module is graded. :func:`scan` lists every file that is not graded with the reason
(``OUT/ignored.csv``); only the files chosen are ever read, by :func:`prepare`, within :data:`MAX_MODULE_BYTES`.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from grader import lms

MODULE_PATTERN = re.compile(r"^ex\d\d_[A-Za-z0-9_]+\.(py|ipynb)$")
"""An exercise module, or a Jupyter notebook of one (graded as the module its code cells define)."""
MAX_MODULE_BYTES = 1 << 20
MAX_ZIP_ENTRIES = 5000
MAX_ZIP_BYTES = 200 * 2**20
MAX_LISTED = 100_000
"""Entries listed in the submissions folder (the rest is reported as not read)."""
MAX_LISTED_PER_STUDENT = 1000
"""Entries listed in one student's folder of an LMS download."""
LMS_FOLDER_DEPTH = 3
"""Levels of sub-folders read in one student's folder of an LMS download."""
LOOSE_FILE = ("a loose file, not a submission: each student's files belong in a folder or a .zip of their own (or "
              "a Canvas or Moodle download, named as the LMS names it)")


class Rejected(Exception):
    """The submission cannot be graded; the message says why and what the student should do."""


@dataclass
class Submission:
    """One submission: an entry of the submissions folder, or one student's files of an LMS download."""

    name: str
    source: Path
    student_id: str = ""
    """The LMS's id of the student (Canvas user id, Moodle participant id); empty in the kit's own layouts."""
    login: str = ""
    """Canvas's login name of the student; empty otherwise."""
    modules: dict[str, Path] | None = None
    """LMS downloads: module file name -> the upload graded as it (None: read ``source``, a folder or zip)."""

    @property
    def is_zip(self) -> bool:
        return self.source.suffix.lower() == ".zip" and self.source.is_file()


@dataclass
class PreparedSubmission:
    name: str
    folder: Path
    modules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the student should know about how their files were read (a notebook's dropped lines, a notebook
    set aside for the ``.py`` of the same module)."""


@dataclass(frozen=True)
class Ignored:
    """A file or folder of the submissions folder that is not graded, and why (a row of ``OUT/ignored.csv``)."""

    submission: str
    """The submission it belongs to; empty when it belongs to none."""
    file: str
    """Its path relative to the submissions folder (posix)."""
    reason: str


@dataclass
class Discovery:
    """What :func:`scan` found: the submissions, sorted by name, and what is not graded."""

    submissions: list[Submission]
    ignored: list[Ignored]


def discover(folder: Path) -> list[Submission]:
    """The submissions in ``folder``, sorted by name (what is not graded: :func:`scan`)."""
    return scan(folder).submissions


def scan(folder: Path) -> Discovery:
    """The submissions in ``folder`` and every entry that is not graded, with the reason.

    An entry named as Canvas or Moodle name their downloads (:mod:`grader.lms`) is a file of that student;
    any other sub-folder, symbolic link or ``.zip`` is one submission, as always; hidden entries and other
    loose files are ignored. Nothing is read here, only listed.
    """
    ignored: list[tuple[lms.Student | None, str, str]] = []
    found: dict[str, Submission] = {}
    uploads: dict[lms.Student, list[lms.Upload]] = {}
    for entry in _listing(folder, MAX_LISTED, folder, None, ignored):
        name = entry.name
        if name.startswith("."):
            ignored.append((None, name, f"hidden {'folder' if _is_dir(entry) else 'file'}"))
            continue
        if name == "__MACOSX" and _is_dir(entry):
            ignored.append((None, name, "macOS archive metadata, not a submission"))
            continue
        if _lms_entry(folder, entry, uploads, ignored):
            continue
        if entry.is_symlink() or entry.is_dir():
            found[name] = Submission(name, Path(entry.path))
        elif entry.is_file() and name.lower().endswith(".zip"):
            stem = name[: -len(".zip")]
            if stem in found:
                stem = name
            found[stem] = Submission(stem, Path(entry.path))
        else:
            ignored.append((None, name, LOOSE_FILE))
    names = lms.unique_names(uploads, taken=found)
    for student, files in uploads.items():
        choice = lms.choose(student, files, _module_name)
        found[names[student]] = _lms_submission(folder, names[student], choice)
        ignored.extend((student, path, reason) for path, reason in choice.set_aside)
    rows = [Ignored(names[student] if student is not None else "", path, reason) for student, path, reason in ignored]
    return Discovery([found[name] for name in sorted(found)], sorted(rows, key=lambda row: (row.submission, row.file)))


def _module_name(file_name: str) -> str | None:
    return file_name if MODULE_PATTERN.match(file_name) else None


def _is_dir(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False)


def _listing(directory: Path, limit: int, root: Path, student: lms.Student | None,
             ignored: list[tuple[lms.Student | None, str, str]]) -> list[os.DirEntry[str]]:
    """The entries of ``directory``, sorted by name, at most ``limit`` of them (the rest, or an error, is reported)."""
    relative = directory.relative_to(root).as_posix()
    entries: list[os.DirEntry[str]] = []
    try:
        with os.scandir(directory) as listing:
            for entry in listing:
                if len(entries) == limit:
                    ignored.append((student, relative, f"holds more than {limit} entries: the rest is not read"))
                    break
                entries.append(entry)
    except OSError as error:
        if relative == ".":
            raise
        ignored.append((student, relative, f"cannot be read ({error.strerror or error})"))
    return sorted(entries, key=lambda entry: entry.name)


def _lms_entry(root: Path, entry: os.DirEntry[str], uploads: dict[lms.Student, list[lms.Upload]],
               ignored: list[tuple[lms.Student | None, str, str]]) -> bool:
    """Take ``entry`` as a file of a Canvas or Moodle download when it is named as one; False when it is not."""
    is_file, is_dir = entry.is_file(follow_symlinks=False), _is_dir(entry)
    moodle = lms.parse_moodle(entry.name)
    if moodle is not None and (is_dir == (moodle[2] == "")):  # a student's folder, or a flat file
        student, plugin, file_name = moodle
        files = uploads.setdefault(student, [])
        if is_dir:
            _moodle_folder(root, Path(entry.path), student, plugin, files, ignored, LMS_FOLDER_DEPTH)
        elif is_file:
            files.append(lms.Upload(student, entry.name, file_name, mtime=_mtime(entry), kind=plugin))
        else:
            ignored.append((student, entry.name, "a symbolic link or special file: never followed"))
        return True
    canvas = lms.parse_canvas(entry.name) if moodle is None and is_file else None
    if canvas is None:
        return False
    uploads.setdefault(canvas.student, []).append(replace(canvas, mtime=_mtime(entry)))
    return True


def _moodle_folder(root: Path, directory: Path, student: lms.Student, plugin: str, files: list[lms.Upload],
                   ignored: list[tuple[lms.Student | None, str, str]], depth: int) -> None:
    """Every file of one Moodle student folder (and its sub-folders, ``depth`` levels) as ``student``'s."""
    for entry in _listing(directory, MAX_LISTED_PER_STUDENT, root, student, ignored):
        relative = Path(entry.path).relative_to(root).as_posix()
        if entry.name.startswith("."):
            ignored.append((student, relative, f"hidden {'folder' if _is_dir(entry) else 'file'}"))
        elif entry.is_symlink():
            ignored.append((student, relative, "a symbolic link: never followed"))
        elif _is_dir(entry) and depth > 0:
            _moodle_folder(root, Path(entry.path), student, plugin, files, ignored, depth - 1)
        elif _is_dir(entry):
            ignored.append((student, relative, f"a folder more than {LMS_FOLDER_DEPTH} levels deep: not read"))
        elif entry.is_file(follow_symlinks=False):
            files.append(lms.Upload(student, relative, entry.name, mtime=_mtime(entry), kind=plugin))
        else:
            ignored.append((student, relative, "not a regular file"))


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def _lms_submission(root: Path, name: str, choice: lms.Choice) -> Submission:
    """The submission of one student of an LMS download: the modules chosen, or their ``.zip``."""
    student = choice.student
    if choice.archive is not None:
        return Submission(name, root / choice.archive, student.student_id, student.login)
    modules = {module: root / path for module, path in choice.modules.items()}
    source = next(iter(modules.values()), root)
    return Submission(name, source, student.student_id, student.login, modules)


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
    if submission.modules is not None:
        files = _chosen_files(submission.modules)
    else:
        files = _zip_files(submission.source) if submission.is_zip else _folder_files(submission.source)
    notes: list[str] = []
    chosen = _choose_modules(files, notes)
    for module_name, data in chosen.items():
        (destination / module_name).write_bytes(data)
    return PreparedSubmission(submission.name, destination, sorted(m[:-3] for m in chosen), notes)


def too_large(name: str, limit: int) -> str:
    """The sentence for a submitted file over ``limit`` bytes (for a notebook, how to make it smaller)."""
    advice = "; clear its outputs (Edit > Clear all outputs) and save it" if name.endswith(".ipynb") else ""
    return f"{name} is larger than {limit // 1024} KiB{advice}"


MAX_NAMES_LOOKED_AT = 200  # entries of an empty submission listed to say what it holds instead
_MODULE_LIKE = re.compile(r"ex\d\d", re.IGNORECASE)


def why_empty(submission: Submission) -> str:
    """What a submission without any exercise module holds instead, and the likely fix, in one sentence.

    Only names are listed (a folder's files down to two folders deep, a zip's directory), never contents,
    and at most :data:`MAX_NAMES_LOOKED_AT` of them.
    """
    names = _names_in(submission)
    advice = [f"{name} ({fix})" for name in names if (fix := _module_fix(name)) is not None]
    if advice:
        return "it holds " + "; ".join(advice[:5])
    if not names:
        return "it holds no file at all"
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"it holds {shown}, and no file named like an exercise module (exNN_topic.py)"


def _names_in(submission: Submission) -> list[str]:
    """Relative names of the files in a submission (a folder's down to two folders deep, or a zip's), bounded."""
    if submission.is_zip:
        try:
            with zipfile.ZipFile(submission.source) as bundle:
                return [info.filename for info in bundle.infolist()[:MAX_NAMES_LOOKED_AT]
                        if not info.is_dir() and "__MACOSX" not in info.filename]
        except (zipfile.BadZipFile, OSError):
            return []
    names: list[str] = []
    pending = [(submission.source, PurePosixPath())]
    while pending and len(names) < MAX_NAMES_LOOKED_AT:
        folder, relative = pending.pop(0)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries[:MAX_NAMES_LOOKED_AT]:
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=False):
                if len(relative.parts) < 2:  # files three levels down at most, as modules are looked for
                    pending.append((Path(entry.path), relative / entry.name))
            else:
                names.append(str(relative / entry.name))
    return names[:MAX_NAMES_LOOKED_AT]


def _module_fix(name: str) -> str | None:
    """How a file that looks meant as an exercise module should be named or placed (None: it does not)."""
    path = PurePosixPath(name)
    if not _MODULE_LIKE.search(path.name):
        return None
    if MODULE_PATTERN.match(path.name):
        return "too deep: put the exercise modules at the top of your folder or zip, or in exercises/"
    lower = path.name.lower()
    if MODULE_PATTERN.match(lower):
        return f"name it {lower}: exercise module names are lower case"
    return "exercise modules are .py files named exNN_topic.py, e.g. ex02_gradient_descent.py"


def _folder_files(root: Path) -> dict[PurePosixPath, bytes | None]:
    """Relative path -> content for candidate modules up to two levels deep (None: refused)."""
    files: dict[PurePosixPath, bytes | None] = {}
    for depth_glob in ("*.py", "*/*.py", "*/*/*.py", "*.ipynb", "*/*.ipynb", "*/*/*.ipynb"):
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
                raise Rejected(too_large(str(relative), MAX_MODULE_BYTES))
            files[relative] = path.read_bytes()
    return files


def _chosen_files(modules: dict[str, Path]) -> dict[PurePosixPath, bytes | None]:
    """Module name -> content of the uploads :func:`scan` chose (LMS downloads), read within the size limit."""
    files: dict[PurePosixPath, bytes | None] = {}
    for module_name, path in sorted(modules.items()):
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            handle = os.open(path, flags)
        except OSError as error:
            if os.path.islink(path):
                raise Rejected(f"{path.name} is a symbolic link; submit the file itself") from None
            raise Rejected(f"{path.name} cannot be read ({error.strerror or error}); submit it again") from None
        with os.fdopen(handle, "rb") as source:
            if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                raise Rejected(f"{path.name} is not a regular file; submit the file itself")
            data = source.read(MAX_MODULE_BYTES + 1)
        if len(data) > MAX_MODULE_BYTES:
            raise Rejected(f"{path.name} ({module_name}) is larger than {MAX_MODULE_BYTES // 1024} KiB")
        files[PurePosixPath(module_name)] = data
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
                raise Rejected(too_large(name, MAX_MODULE_BYTES))
            files[path] = bundle.read(entry)
        return files


def _choose_modules(files: dict[PurePosixPath, bytes | None], notes: list[str] | None = None) -> dict[str, bytes]:
    """Pick the folder that holds the modules (top, exercises/, or one deeper) and check them; a notebook
    (``exNN_topic.ipynb``) becomes the module its code cells define (:func:`grader.notebook.python_modules`),
    and what was set aside or left out of it is appended to ``notes``."""
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
        if module_name.endswith(".ipynb"):
            continue
        if b"\x00" in data:
            raise Rejected(f"{module_name} is a binary file, not Python source")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(f"{module_name} is not UTF-8 text; save it as UTF-8") from None
    from grader import notebook

    try:
        return notebook.python_modules(chosen, notes)
    except notebook.NotebookError as error:
        raise Rejected(str(error)) from None


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
