"""Canvas and Moodle downloads are graded student by student, and the scores go back into the LMS's own file."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import catalogue, export, lms, submissions
from grader.cli import main

MODULE = "ex01_tensors"
REFERENCE = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text(encoding="utf-8")
STUB = (catalogue.EXERCISES_DIR / f"{MODULE}.py").read_text(encoding="utf-8")
PARTIAL = REFERENCE + "\n\ndef matmul(a, b):\n    raise NotImplementedError('matmul')\n\n" \
                      "def mean_of(t):\n    raise NotImplementedError('mean_of')\n"


def _write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _module_name(name: str) -> str | None:
    return name if submissions.MODULE_PATTERN.match(name) else None


# ---------------------------------------------------------------- names (no file, no grading)
def test_a_canvas_file_name_gives_the_login_the_user_id_the_file_id_and_the_students_own_file_name():
    upload = lms.parse_canvas("smithjane_12345_678901_ex01_tensors.py")
    assert upload.student == lms.Student("canvas", "12345", "smithjane", "smithjane")
    assert (upload.file_id, upload.file_name, upload.late, upload.kind) == (678901, "ex01_tensors.py", False, "file")


def test_a_late_canvas_upload_is_marked_late_and_keeps_its_ids_and_its_renamed_file_name():
    upload = lms.parse_canvas("smithjane_LATE_12345_678902_ex01_tensors-1.py")
    assert upload.late and upload.student.student_id == "12345" and upload.student.login == "smithjane"
    assert (upload.file_id, upload.file_name) == (678902, "ex01_tensors-1.py")


def test_a_canvas_login_with_underscores_is_read_up_to_the_first_two_numbers_as_canvas_reads_it():
    upload = lms.parse_canvas("o_brien_mary_555_777_ex01_tensors.py")
    assert (upload.student.login, upload.student.student_id, upload.file_id) == ("o_brien_mary", "555", 777)
    assert upload.file_name == "ex01_tensors.py"


def test_an_anonymous_canvas_upload_is_identified_by_its_anonymous_id_and_has_no_login():
    upload = lms.parse_canvas("LATE_anon_aB3dE_42_ex01_tensors.py")
    assert upload.student == lms.Student("canvas", "anon_aB3dE", "anon_aB3dE", "") and upload.late


def test_canvas_text_and_url_entries_belong_to_their_student_but_are_not_uploaded_files():
    text, link = lms.parse_canvas("smithjane_12345_text.html"), lms.parse_canvas("smithjane_LATE_12345_link.html")
    assert (text.kind, link.kind, link.late) == ("text", "link", True)
    assert text.student.student_id == link.student.student_id == "12345"


def test_a_moodle_folder_and_a_flat_moodle_file_give_the_full_name_with_its_spaces_and_the_participant_id():
    student, plugin, rest = lms.parse_moodle("Mary Jane O Brien_12345_assignsubmission_file_")
    assert (student.name, student.student_id, student.login, plugin, rest) == ("Mary Jane O Brien", "12345", "",
                                                                                "file", "")
    student, plugin, rest = lms.parse_moodle("Mary Jane O Brien_12345_assignsubmission_file_ex01_tensors (1).py")
    assert (student.name, plugin, rest) == ("Mary Jane O Brien", "file", "ex01_tensors (1).py")
    assert lms.parse_moodle("Li Wei_7_assignsubmission_onlinetext_")[1] == "onlinetext"


@pytest.mark.parametrize("name", ["README.txt", "alice", "alice.zip", "ex01_tensors.py", "smith_12_ex01_tensors.py",
                                  "_12_34_x.py", "Jane Smith_12_assignfeedback_file_x.py", ".DS_Store"])
def test_names_that_no_lms_writes_match_neither_canvas_nor_moodle(name):
    assert lms.parse_canvas(name) is None and lms.parse_moodle(name) is None


@pytest.mark.parametrize(("name", "expected"), [
    ("ex01_tensors.py", ("ex01_tensors.py", 0)),
    ("ex01_tensors-1.py", ("ex01_tensors.py", 1)),
    ("ex01_tensors-12.py", ("ex01_tensors.py", 12)),
    ("ex01_tensors (1).py", ("ex01_tensors.py", 1)),
    ("ex01_tensors (2).py", ("ex01_tensors.py", 2)),
    ("ex01_tensors-0f8fad5b-d9cb-469f-a165-70867728950e.py", ("ex01_tensors.py", 8)),
    ("work (3).zip", ("work.zip", 3)),
    ("README", ("README", 0)),
])
def test_renamed_duplicates_map_back_to_the_name_they_were_uploaded_as_with_their_copy_number(name, expected):
    assert lms.copy_of(name) == expected


JANE = lms.Student("moodle", "7", "Jane Smith")


def test_the_latest_upload_of_a_module_is_graded_and_each_earlier_one_is_set_aside_with_the_reason():
    first = lms.Upload(JANE, "a/ex01_tensors.py", "ex01_tensors.py", mtime=300.0)
    second = lms.Upload(JANE, "a/ex01_tensors (1).py", "ex01_tensors (1).py", mtime=100.0)
    notes = lms.Upload(JANE, "a/README.txt", "README.txt")
    choice = lms.choose(JANE, [first, second, notes], _module_name)
    assert choice.modules == {"ex01_tensors.py": "a/ex01_tensors (1).py"}  # the copy number beats the older mtime
    reasons = dict(choice.set_aside)
    assert "earlier upload of ex01_tensors.py" in reasons["a/ex01_tensors.py"]
    assert "higher copy number" in reasons["a/ex01_tensors.py"]
    assert "not an exercise module" in reasons["a/README.txt"]


def test_the_higher_canvas_file_id_is_the_later_upload_whatever_the_copy_numbers_say():
    student = lms.Student("canvas", "1", "smithjane", "smithjane")
    renamed = lms.Upload(student, "x-1", "ex01_tensors-1.py", file_id=10)
    later = lms.Upload(student, "x", "ex01_tensors.py", file_id=11)
    assert lms.choose(student, [renamed, later], _module_name).modules == {"ex01_tensors.py": "x"}


def test_without_file_ids_or_copy_numbers_the_newer_modification_time_breaks_the_tie():
    old = lms.Upload(JANE, "a/old/ex01_tensors.py", "ex01_tensors.py", mtime=100.0)
    new = lms.Upload(JANE, "a/new/ex01_tensors.py", "ex01_tensors.py", mtime=200.0)
    choice = lms.choose(JANE, [new, old], _module_name)
    assert choice.modules == {"ex01_tensors.py": "a/new/ex01_tensors.py"}
    assert "newer file" in dict(choice.set_aside)["a/old/ex01_tensors.py"]


def test_a_student_with_no_loose_module_is_graded_from_their_latest_zip_and_a_zip_next_to_modules_is_set_aside():
    zips = [lms.Upload(JANE, "work.zip", "work.zip", mtime=1.0), lms.Upload(JANE, "work (1).zip", "work (1).zip")]
    choice = lms.choose(JANE, zips, _module_name)
    assert choice.archive == "work (1).zip" and choice.modules == {}
    assert "earlier .zip" in dict(choice.set_aside)["work.zip"]
    module = lms.Upload(JANE, "ex01_tensors.py", "ex01_tensors.py")
    choice = lms.choose(JANE, [*zips, module], _module_name)
    assert choice.archive is None and "loose modules are graded" in dict(choice.set_aside)["work.zip"]


def test_two_students_who_share_a_name_get_distinct_submission_names_with_their_ids():
    one, two, three = (lms.Student("moodle", "1", "Li Wei"), lms.Student("moodle", "2", "li wei"),
                       lms.Student("moodle", "3", "Ann"))
    assert lms.unique_names([one, two, three], taken=["ann"]) == {one: "Li Wei_1", two: "li wei_2", three: "Ann_3"}


# ---------------------------------------------------------------- the download folder (listed, not graded)
def test_the_kits_own_layouts_are_found_as_before_and_hidden_and_loose_files_are_now_listed(tmp_path):
    _write(tmp_path / "alice" / f"{MODULE}.py", REFERENCE)
    _write(tmp_path / "bob.zip", "not really a zip")
    _write(tmp_path / ".DS_Store", "")
    _write(tmp_path / "notes.txt", "the class list")
    found = submissions.scan(tmp_path)
    assert [(s.name, s.source.name, s.modules, s.student_id) for s in found.submissions] == [
        ("alice", "alice", None, ""), ("bob", "bob.zip", None, "")]
    assert [(i.submission, i.file) for i in found.ignored] == [("", ".DS_Store"), ("", "notes.txt")]
    assert "hidden" in found.ignored[0].reason and "loose file" in found.ignored[1].reason
    assert [s.name for s in submissions.discover(tmp_path)] == ["alice", "bob"]


def test_a_flat_moodle_download_is_grouped_by_participant_and_a_symlink_in_a_student_folder_is_never_followed(
        tmp_path):
    _write(tmp_path / "Ann Lee_31_assignsubmission_file_ex01_tensors.py", STUB)
    _write(tmp_path / "Ann Lee_31_assignsubmission_file_notes.md", "")
    _write(tmp_path / "Ann Lee_31_assignsubmission_onlinetext_onlinetext.html", "<p>hi</p>")
    secret = _write(tmp_path.parent / f"{tmp_path.name}-secret.py", "SECRET")
    folder = tmp_path / "Bo Chen_32_assignsubmission_file_"
    folder.mkdir()
    (folder / f"{MODULE}.py").symlink_to(secret)
    found = submissions.scan(tmp_path)
    ann, bo = found.submissions
    assert (ann.name, ann.student_id, ann.login) == ("Ann Lee", "31", "")
    assert ann.modules == {f"{MODULE}.py": tmp_path / "Ann Lee_31_assignsubmission_file_ex01_tensors.py"}
    assert (bo.name, bo.modules) == ("Bo Chen", {})
    reasons = {i.file: (i.submission, i.reason) for i in found.ignored}
    assert reasons["Ann Lee_31_assignsubmission_file_notes.md"][0] == "Ann Lee"
    assert "onlinetext" in reasons["Ann Lee_31_assignsubmission_onlinetext_onlinetext.html"][1]
    assert reasons[f"Bo Chen_32_assignsubmission_file_/{MODULE}.py"] == ("Bo Chen", "a symbolic link: never followed")


def test_an_lms_upload_is_read_within_the_size_limit_and_a_too_large_one_rejects_the_submission(tmp_path):
    big = _write(tmp_path / "down" / f"smithjane_1_2_{MODULE}.py", "x" * (submissions.MAX_MODULE_BYTES + 1))
    entry = submissions.scan(tmp_path / "down").submissions[0]
    assert entry.modules == {f"{MODULE}.py": big}
    with pytest.raises(submissions.Rejected, match="larger than"):
        submissions.prepare(entry, tmp_path / "copy")
    _write(big, REFERENCE)
    prepared = submissions.prepare(entry, tmp_path / "copy2")
    assert prepared.modules == [MODULE] and (tmp_path / "copy2" / f"{MODULE}.py").read_text() == REFERENCE


# ---------------------------------------------------------------- graded end to end
def _canvas_download(root: Path) -> Path:
    """smithjane resubmitted (-1, a higher file id), doejohn is late with the stub, leeann solved part."""
    _write(root / f"smithjane_101_500_{MODULE}.py", STUB, mtime=2_000_000)
    _write(root / f"smithjane_101_501_{MODULE}-1.py", REFERENCE, mtime=1_000_000)
    _write(root / "smithjane_101_502_README.txt", "my notes")
    _write(root / f"doejohn_LATE_102_503_{MODULE}.py", STUB)
    _write(root / f"leeann_103_504_{MODULE} (1).py", PARTIAL)
    _write(root / ".DS_Store", "")
    return root


def _moodle_download(root: Path) -> Path:
    """Jane Smith uploaded twice ((1) is the later), John Doe solved part, Ann Lee left the stub and wrote text."""
    jane = root / "Jane Smith_201_assignsubmission_file_"
    _write(jane / f"{MODULE}.py", STUB, mtime=2_000_000)
    _write(jane / f"{MODULE} (1).py", REFERENCE, mtime=1_000_000)
    _write(jane / "README.txt", "read me")
    john = root / "John Doe_202_assignsubmission_file_"
    _write(john / f"{MODULE}.py", PARTIAL)
    _write(john / ".DS_Store", "")
    _write(root / "Ann Lee_203_assignsubmission_file_" / f"{MODULE}.py", STUB)
    _write(root / "Ann Lee_203_assignsubmission_onlinetext_" / "onlinetext.html", "<p>done</p>")
    return root


@dataclass
class Graded:
    out: Path
    output: str
    rows: dict[str, dict[str, str]]
    header: list[str]
    ignored: list[dict[str, str]]


def _grade(download: Path, out: Path) -> Graded:
    result = subprocess.run([sys.executable, "-m", "grader.cli", "batch", str(download), MODULE, "--out", str(out),
                             "--jobs", "1", "--memory-limit", "2"], capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(out / "grades.csv", newline="") as handle:
        header = next(csv.reader(handle))
    rows = {row["submission"]: row for row in _csv(out / "grades.csv")}
    return Graded(out, result.stdout, rows, header, _csv(out / "ignored.csv"))


@pytest.fixture(scope="module")
def canvas_graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    tmp = tmp_path_factory.mktemp("canvas")
    return _grade(_canvas_download(tmp / "download"), tmp / "out")


@pytest.fixture(scope="module")
def moodle_graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    tmp = tmp_path_factory.mktemp("moodle")
    return _grade(_moodle_download(tmp / "download"), tmp / "out")


def test_a_canvas_download_is_graded_per_student_with_canvas_ids_and_logins_in_grades_csv(canvas_graded):
    assert canvas_graded.header == ["submission", "student_id", "login", "score", "max_score", MODULE, "status",
                                    "percent"]
    rows = canvas_graded.rows
    assert sorted(rows) == ["doejohn", "leeann", "smithjane"]
    assert [(rows[n]["student_id"], rows[n]["login"]) for n in ("smithjane", "doejohn", "leeann")] == [
        ("101", "smithjane"), ("102", "doejohn"), ("103", "leeann")]
    full = float(rows["smithjane"]["max_score"])
    assert float(rows["smithjane"]["score"]) == full, "the resubmission (-1, higher file id) is the one graded"
    assert float(rows["doejohn"]["score"]) == 0
    assert 0 < float(rows["leeann"]["score"]) < full, "the (1) copy maps back to ex01_tensors.py"


def test_every_file_of_the_canvas_download_that_is_not_graded_is_in_ignored_csv_printed_and_counted(canvas_graded):
    listed = {(row["submission"], row["file"]): row["reason"] for row in canvas_graded.ignored}
    assert set(listed) == {("", ".DS_Store"), ("smithjane", "smithjane_101_502_README.txt"),
                           ("smithjane", f"smithjane_101_500_{MODULE}.py")}
    assert "earlier upload" in listed[("smithjane", f"smithjane_101_500_{MODULE}.py")]
    assert "Ignored 3 files or folders" in canvas_graded.output and "ignored.csv" in canvas_graded.output
    assert '"ignored": 3' in (canvas_graded.out / "summary.json").read_text()


def test_a_moodle_download_is_graded_per_participant_with_the_full_name_and_the_latest_duplicate(moodle_graded):
    rows = moodle_graded.rows
    assert sorted(rows) == ["Ann Lee", "Jane Smith", "John Doe"]
    assert [rows[n]["student_id"] for n in ("Jane Smith", "John Doe", "Ann Lee")] == ["201", "202", "203"]
    assert all(row["login"] == "" for row in rows.values())
    full = float(rows["Jane Smith"]["max_score"])
    assert float(rows["Jane Smith"]["score"]) == full, "ex01_tensors (1).py, the later upload, is graded"
    assert 0 < float(rows["John Doe"]["score"]) < full and float(rows["Ann Lee"]["score"]) == 0
    listed = {(row["submission"], row["file"]) for row in moodle_graded.ignored}
    assert listed == {("Jane Smith", "Jane Smith_201_assignsubmission_file_/README.txt"),
                      ("Jane Smith", f"Jane Smith_201_assignsubmission_file_/{MODULE}.py"),
                      ("John Doe", "John Doe_202_assignsubmission_file_/.DS_Store"),
                      ("Ann Lee", "Ann Lee_203_assignsubmission_onlinetext_/onlinetext.html")}


CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Exercise 1: tensors (4567)",
                 "Quiz 1 (4568)", "Assignments Current Score", "Current Score", "Final Score"]


def _canvas_template(path: Path, students: list[tuple[str, str, str]]) -> Path:
    rows = [CANVAS_HEADER, ["    Points Possible", "", "", "", "", "10.00", "5.00", "(read only)", "(read only)",
                            "(read only)"]]
    rows += [[name, user_id, f"S{user_id}", login, "Section A", "", "4", "", "", ""] for name, user_id, login in
             students]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8")
    return path


def test_grade_export_canvas_writes_only_the_identity_columns_and_one_assignment_scaled_to_its_points(
        canvas_graded, tmp_path):
    template = _canvas_template(tmp_path / "Grades.csv", [("Smith, Jane", "101", "jsmith"),
                                                          ("Doe, John", "102", "jdoe"),
                                                          ("Student, Test", "999", "")])
    target = tmp_path / "import.csv"
    result = CliRunner().invoke(main, ["export", "canvas", "--gradebook", str(canvas_graded.out), "--template",
                                       str(template), "--column", "Exercise 1", "-o", str(target)])
    assert result.exit_code == 0, result.output
    with open(target, newline="", encoding="utf-8-sig") as handle:
        header, points, *students = list(csv.reader(handle))
    assert header == CANVAS_HEADER[:6]
    assert points[0].strip() == "Points Possible" and points[5] == "10.00"
    assert students == [["Smith, Jane", "101", "S101", "jsmith", "Section A", "10"],
                        ["Doe, John", "102", "S102", "jdoe", "Section A", "0"],
                        ["Student, Test", "999", "S999", "", "Section A", ""]]
    assert "Points Possible" in result.output and "scaled" in result.output
    assert "No submission (left as they were): Student, Test" in result.output
    assert "leeann" in result.output.split("no row in the template")[1], "a submission with no roster row is listed"


def test_grade_export_canvas_with_several_assignments_and_no_column_names_them_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    _write(out / "grades.csv", "submission,student_id,login,score,max_score,status,percent\n"
                               "a,1,a,5,10,ok,50.00\n")
    template = _canvas_template(tmp_path / "Grades.csv", [("A", "1", "a")])
    result = CliRunner().invoke(main, ["export", "canvas", "--gradebook", str(out), "--template", str(template)])
    assert result.exit_code == 1
    assert "'Exercise 1: tensors (4567)', 'Quiz 1 (4568)'" in result.output and "--column" in result.output
    assert not (out / "canvas-import.csv").exists()


def test_a_grader_error_is_never_exported_as_a_score_and_a_gradebook_without_ids_matches_by_sis_login(tmp_path):
    out = tmp_path / "out"
    _write(out / "grades.csv", "submission,score,max_score,ex01_tensors,status,percent\n"
                               "jsmith,7.5,10,7.5,ok,75.00\n"
                               "jdoe,,10,,grader_error: the grader failed,\n")
    template = _canvas_template(tmp_path / "Grades.csv", [("Smith, Jane", "101", "jsmith"), ("Doe, John", "102", "jdoe")])
    result = export.export("canvas", out, template, "4567")
    rows = list(csv.reader(io.StringIO(result.text.lstrip("\ufeff"))))
    assert [row[-1] for row in rows[2:]] == ["7.5", ""]
    assert result.filled == 1 and result.not_graded == ["Doe, John (jdoe)"]


def _moodle_template(path: Path) -> Path:
    header = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
              "Last modified (submission)", "Last modified (grade)", "Feedback comments"]
    rows = [header]
    for participant, name in (("201", "Jane Smith"), ("202", "John Doe"), ("204", "Max Absent")):
        rows.append([f"Participant {participant}", name, f"{name.split()[0].lower()}@example.org",
                     "Submitted for grading", "", "100.00", "Yes", "Monday, 1 January 2024, 9:00 AM", "-", ""])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_grade_export_moodle_fills_the_grade_column_by_participant_and_keeps_every_other_cell(moodle_graded,
                                                                                                tmp_path):
    template = _moodle_template(tmp_path / "worksheet.csv")
    target = tmp_path / "upload.csv"
    result = CliRunner().invoke(main, ["export", "moodle", "--gradebook", str(moodle_graded.out), "--template",
                                       str(template), "-o", str(target)])
    assert result.exit_code == 0, result.output
    before, after = _csv(template), _csv(target)
    assert list(after[0]) == list(before[0])
    for old, new in zip(before, after):
        assert {k: v for k, v in new.items() if k != "Grade"} == {k: v for k, v in old.items() if k != "Grade"}
    grades = {row["Full name"]: row["Grade"] for row in after}
    john = moodle_graded.rows["John Doe"]
    assert grades["Jane Smith"] == "100" and grades["Max Absent"] == ""
    assert float(grades["John Doe"]) == pytest.approx(100 * float(john["score"]) / float(john["max_score"]), abs=0.01)
    assert "Maximum Grade" in result.output and "No submission (left as they were): Max Absent" in result.output
    assert "Ann Lee" in result.output.split("no row in the template")[1]


def test_grade_export_csv_writes_a_plain_roster_of_every_submission(canvas_graded, tmp_path):
    target = tmp_path / "roster.csv"
    result = CliRunner().invoke(main, ["export", "csv", "--gradebook", str(canvas_graded.out), "-o", str(target)])
    assert result.exit_code == 0, result.output
    rows = _csv(target)
    assert list(rows[0]) == ["student", "id", "login", "score", "max_score", "percent"]
    assert [r["student"] for r in rows] == ["doejohn", "leeann", "smithjane"]
    assert (rows[0]["id"], rows[0]["login"], rows[0]["score"], rows[0]["percent"]) == ("102", "doejohn", "0", "0.00")
    assert rows[2]["percent"] == "100.00" and rows[2]["score"] == rows[2]["max_score"]


def test_a_template_that_is_not_the_lms_export_is_refused_with_where_to_download_the_right_one(tmp_path):
    out = tmp_path / "out"
    _write(out / "grades.csv", "submission,score,max_score,status,percent\na,5,10,ok,50.00\n")
    roster = _write(tmp_path / "roster.csv", "name,email\nA,a@example.org\n")
    with pytest.raises(export.ExportError, match="Grades > Export"):
        export.export("canvas", out, roster, None)
    with pytest.raises(export.ExportError, match="Download grading worksheet"):
        export.export("moodle", out, roster, None)
    with pytest.raises(export.ExportError, match="--template"):
        export.export("moodle", out, None, None)
    result = CliRunner().invoke(main, ["export", "canvas", "--gradebook", str(tmp_path / "nowhere"), "--template",
                                       str(roster)])
    assert result.exit_code == 1 and "holds no grades.csv" in result.output
