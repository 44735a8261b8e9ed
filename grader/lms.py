"""Recognise the bulk downloads of learning management systems and decide which files to grade.

Pure functions on file names and paths: nothing here opens, reads or lists a file (``grader.submissions``
lists the folder and reads the files it is told to). Two layouts are understood, besides the kit's own
(one folder or ``.zip`` per student):

**Canvas** ("Download Submissions", unpacked): flat files named by ``ContentZipper`` in canvas-lms
(``lib/content_zipper.rb``: ``get_filename`` and ``add_upload_submission``)::

    <login>_<user id>_<attachment id>_<file name>          smithjane_12345_678901_ex01_tensors.py
    <login>_LATE_<user id>_<attachment id>_<file name>     a late submission
    <login>_<user id>_text.html, <login>_<user id>_link.html   a text entry, a website URL
    anon_<anonymous id>_<attachment id>_<file name>        anonymous grading (no login)

``<login>`` is the student's sortable name ("Smith, Jane") lower-cased with every non-word character
removed; Canvas removes the underscores around digits in it ("we use /_\\d+_/ to infer the user/attachment
ids"), so the first ``_<digits>_<digits>_`` after it is the user id and the attachment id, as Canvas itself
parses it. The third number is the id of the uploaded file (Canvas attachment id), not of the submission:
ids grow with time, so the highest is the latest upload. A file uploaded twice under one name is renamed by
Canvas (``Attachment.make_unique_filename``): ``ex01_tensors-1.py``, ``ex01_tensors-2.py``.

**Moodle** ("Download all submissions", ``mod/assign/locallib.php`` ``download_submissions``): the prefix
is ``<Full name>_<participant id>`` with underscores in the name replaced by spaces, then
``_assignsubmission_<plugin>_``. With "Download submissions in folders" (the default since Moodle 3.1) it
is a folder per student and plugin (``Jane Smith_12345_assignsubmission_file_/ex01_tensors.py``,
``..._assignsubmission_onlinetext_/onlinetext.html``); without it, flat files
``Jane Smith_12345_assignsubmission_file_ex01_tensors.py``. The participant id is the number of the grading
worksheet's ``Identifier`` ("Participant 12345"). Moodle's file manager renames a second upload of one
name ``ex01_tensors (1).py`` (``file_storage::get_unused_filename``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

CANVAS = "canvas"
MOODLE = "moodle"

# Canvas: [[:word:]] in Ruby is \w in Python (Unicode letters, digits, underscore).
_CANVAS_UPLOAD = re.compile(r"^(?P<login>\w+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<file_id>\d+)_(?P<file>.+)$")
_CANVAS_ANONYMOUS = re.compile(r"^(?P<late>LATE_)?anon_(?P<anon>[A-Za-z0-9]+)_(?P<file_id>\d+)_(?P<file>.+)$")
_CANVAS_ENTRY = re.compile(r"^(?P<login>\w+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<kind>text|link)\.html$")
_MOODLE = re.compile(r"^(?P<name>[^_/]+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<rest>.*)$")
_DASH_COPY = re.compile(r"^(?P<stem>.+)-(?P<n>\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_PAREN_COPY = re.compile(r"^(?P<stem>.+) \((?P<n>\d+)\)$")


@dataclass(frozen=True)
class Student:
    """Who a file of a download belongs to, as the LMS names them."""

    lms: str
    student_id: str
    """Canvas user id (``anon_<id>`` under anonymous grading); Moodle participant id."""
    name: str
    """The name shown in the gradebook: Canvas login, Moodle full name."""
    login: str = ""
    """Canvas's login part of the file name; empty for Moodle."""


@dataclass(frozen=True)
class Upload:
    """One file of a download, attributed to a student."""

    student: Student
    path: str
    """Where it lies, relative to the download folder (posix); also its name in reports."""
    file_name: str
    """The file's own name, as the student uploaded it (after the LMS's renaming)."""
    file_id: int = 0
    """Canvas attachment id (0: none, as in Moodle)."""
    mtime: float = 0.0
    late: bool = False
    kind: str = "file"
    """``file``; or what else the LMS stored (Canvas ``text``/``link``, Moodle ``onlinetext``...)."""


@dataclass
class Choice:
    """What to grade for one student: a file per module, or one archive, and every other file with a reason."""

    student: Student
    modules: dict[str, str] = field(default_factory=dict)
    """Module file name (``ex01_tensors.py``) -> path of the upload graded as it."""
    archive: str | None = None
    """Path of the ``.zip`` graded when the student uploaded no loose module."""
    set_aside: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of every other upload."""
    late: bool = False


def parse_canvas(name: str) -> Upload | None:
    """The Canvas reading of a top-level file name, or None when Canvas would not name a file so.

    >>> parse_canvas("smithjane_LATE_12345_678_ex01_tensors-1.py").file_name
    'ex01_tensors-1.py'
    """
    if match := _CANVAS_ANONYMOUS.match(name):
        anonymous = f"anon_{match['anon']}"
        return Upload(Student(CANVAS, anonymous, anonymous), name, match["file"], int(match["file_id"]),
                      late=bool(match["late"]))
    if match := _CANVAS_ENTRY.match(name):
        return Upload(Student(CANVAS, match["user"], match["login"], match["login"]), name, name,
                      late=bool(match["late"]), kind=match["kind"])
    if match := _CANVAS_UPLOAD.match(name):
        return Upload(Student(CANVAS, match["user"], match["login"], match["login"]), name, match["file"],
                      int(match["file_id"]), late=bool(match["late"]))
    return None


def parse_moodle(name: str) -> tuple[Student, str, str] | None:
    """``(student, plugin, rest)`` of a Moodle-named entry, or None.

    ``rest`` is the uploaded file's name for a flat file and empty for a student's folder
    (``Jane Smith_12345_assignsubmission_file_``).
    """
    match = _MOODLE.match(name)
    if match is None or not match["name"].strip():
        return None
    return Student(MOODLE, match["id"], match["name"].strip()), match["plugin"], match["rest"]


def copy_of(file_name: str) -> tuple[str, int]:
    """The name a renamed duplicate was uploaded as, and its copy number (0: not a renamed copy).

    ``ex01_tensors-1.py`` (Canvas) and ``ex01_tensors (1).py`` (Moodle, browsers) give
    ``("ex01_tensors.py", 1)``; Canvas's last resort, ``ex01_tensors-<uuid>.py``, counts as copy 8 (it only
    uses it after ``-7``). A name that is neither is returned as is, with 0.
    """
    stem, dot, extension = file_name.rpartition(".")
    if not dot or not stem:
        stem, extension = file_name, ""
    suffix = f".{extension}" if dot and extension else ""
    for pattern in (_PAREN_COPY, _DASH_COPY):
        if match := pattern.match(stem):
            number = match["n"]
            return match["stem"] + suffix, int(number) if number.isdigit() else 8
    return file_name, 0


def recency(upload: Upload) -> tuple[int, int, float, str]:
    """The order of two uploads for one module: the greater is the later.

    The rule: the higher Canvas attachment id (ids grow with each upload; Moodle has none, all 0); then the
    higher copy number (``-2`` after ``-1`` after none, ``(2)`` after ``(1)``); then the newer modification
    time (as unpacked from the download); then the path, so that the choice never depends on listing order.
    """
    return upload.file_id, copy_of(upload.file_name)[1], upload.mtime, upload.path


def choose(student: Student, uploads: Iterable[Upload], module_name: Callable[[str], str | None]) -> Choice:
    """Decide what of ``uploads`` (all of ``student``) is graded, and why the rest is not.

    Args:
        student: whose uploads these are.
        uploads: every file of theirs in the download.
        module_name: the exercise module a (de-duplicated) file name is, or None: ``ex01_tensors.py`` ->
            ``ex01_tensors.py``, ``README.txt`` -> None.

    Each module keeps its latest upload by :func:`recency`; the others are set aside as earlier uploads. A
    student with no loose module is graded from their latest ``.zip`` (the kit's usual zip layout).
    """
    uploads = list(uploads)
    choice = Choice(student)
    by_module: dict[str, list[Upload]] = {}
    archives: list[Upload] = []
    for upload in uploads:
        choice.late = choice.late or upload.late
        if upload.kind != "file":
            choice.set_aside.append((upload.path, _entry_reason(upload.kind)))
            continue
        base, _ = copy_of(upload.file_name)
        module = module_name(base)
        if module is not None:
            by_module.setdefault(module, []).append(upload)
        elif base.lower().endswith(".zip"):
            archives.append(upload)
        else:
            choice.set_aside.append((upload.path, "not an exercise module (exNN_topic.py)"))
    for module, candidates in sorted(by_module.items()):
        latest, *earlier = sorted(candidates, key=recency, reverse=True)
        choice.modules[module] = latest.path
        for upload in earlier:
            reason = f"an earlier upload of {module}: {latest.path} is graded ({_why_later(latest, upload)})"
            choice.set_aside.append((upload.path, reason))
    archives.sort(key=recency, reverse=True)
    if archives and not choice.modules:
        latest, *earlier = archives
        choice.archive = latest.path
        for upload in earlier:
            reason = f"an earlier .zip: {latest.path} is graded ({_why_later(latest, upload)})"
            choice.set_aside.append((upload.path, reason))
    else:
        reason = "a .zip next to loose exercise modules: the loose modules are graded"
        choice.set_aside.extend((upload.path, reason) for upload in archives)
    choice.set_aside.sort()
    return choice


def _why_later(kept: Upload, earlier: Upload) -> str:
    if kept.file_id != earlier.file_id:
        return "the higher Canvas file id: uploaded later"
    if copy_of(kept.file_name)[1] != copy_of(earlier.file_name)[1]:
        return "higher copy number"
    if kept.mtime != earlier.mtime:
        return "newer file"
    return "same age: the last by name"


def _entry_reason(kind: str) -> str:
    return {
        "text": "a Canvas text entry, not an uploaded file",
        "link": "a Canvas website URL entry, not an uploaded file",
    }.get(kind, f"a Moodle {kind} submission, not an uploaded file")


def unique_names(students: Iterable[Student], taken: Iterable[str] = ()) -> dict[Student, str]:
    """A distinct submission name for each student: their name, or ``<name>_<id>`` when two share one.

    Names are compared without case (report files are named after them) and against ``taken`` (the
    submissions of other layouts in the same folder).
    """
    students = list(students)
    counts: dict[str, int] = {}
    for name in [s.name for s in students] + list(taken):
        counts[name.casefold()] = counts.get(name.casefold(), 0) + 1
    return {s: s.name if counts[s.name.casefold()] == 1 else f"{s.name}_{s.student_id}" for s in students}
