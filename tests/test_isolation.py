"""Untrusted code cannot escape its box, steal answers, sabotage other submissions or fill the disk.

Every test runs the real ``grade`` command in an environment built by
:mod:`tests.isolation_harness`: as root with bubblewrap (tier ``namespaces``), as root in a
Docker-like container (tier ``uid``), or as an unprivileged user with or without user namespaces
(tiers ``namespaces`` and ``reduced``). Each hostile payload (:mod:`tests.isolation_payloads`)
reports what it did through the feedback of its items, so every test also checks that the attack
really ran. The tests are slow (each run imports torch); they keep to small exercise selections.
"""

from __future__ import annotations

import csv
import json
import os
import site
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader import catalogue
from tests import isolation_harness as harness
from tests import isolation_payloads as payloads

KIT = catalogue.KIT_ROOT.resolve()
CHECK_TIMEOUT = 300
BATCH_TIMEOUT = 420


@dataclass
class Attempt:
    """One run of a hostile submission: where it ran, how the command ended, the payload's token."""

    environment: str
    outcome: harness.Outcome
    token: str
    extra: dict = field(default_factory=dict)


def _token() -> str:
    return uuid.uuid4().hex[:12]


def _items(document: dict) -> dict[str, dict]:
    return {f"{e['name']}.{i['name']}": i for e in document["exercises"] for i in e["items"]}


def _exercise(document: dict, name: str) -> dict:
    return next(e for e in document["exercises"] if e["name"] == name)


# ================================================================ a: a stub submission that attacks
ESCAPE_ENVIRONMENTS = ["root", "docker"]


def _places_written(root: str, token: str) -> list[str]:
    """Where a ``pwned-TOKEN`` file exists, looking through ``root`` (an environment's /proc/PID/root, or "")."""
    places = {KIT / "grader", KIT, KIT / "solutions", KIT / "tests" / "hidden", Path("/usr"), Path("/usr/lib"),
              Path("/usr/local"), Path("/"), Path("/etc"), *map(Path, site.getsitepackages())}
    found = []
    for place in places:
        candidate = Path(root + str(place)) / f"pwned-{token}"
        if candidate.exists():
            found.append(str(place))
    return found


@pytest.fixture(scope="module", params=ESCAPE_ENVIRONMENTS)
def escape_attempt(request):
    """`grade check --json` of the stubs, ex01 opening with every escape the payload knows."""
    environment = request.param
    harness.require(environment)
    token = _token()
    with harness.shared_folder("isolation-escape-") as shared:
        submission = harness.copy_modules(catalogue.EXERCISES_DIR, shared / "stubs")
        for path in sorted(submission.glob("ex[0-9][0-9]_*.py")):
            source = path.read_text(encoding="utf-8")
            if path.name == "ex01_tensors.py":
                source = payloads.with_escape_payload(source, token)
            else:
                source += payloads.ESCAPE_OTHER_TAIL
            path.write_text(source, encoding="utf-8")
        try:
            outcome = harness.run(environment, ["check", "--submission", submission, "--json"], keep=[shared],
                                  timeout=CHECK_TIMEOUT,
                                  inspect=lambda inside: _places_written(str(inside.root), token))
            yield Attempt(environment, outcome, token)
        finally:
            for place in _places_written("", token):  # should there be any, leave the host clean
                Path(place, f"pwned-{token}").unlink(missing_ok=True)


def test_the_escape_payload_really_ran_in_its_box(escape_attempt):
    outcome = escape_attempt.outcome
    document = outcome.json()
    ex01 = _exercise(document, "ex01_tensors")
    assert ex01["error"] is None, ex01["error"]
    report = payloads.report_in(ex01)
    assert report is not None and report.get("ran") == "1", outcome.describe()
    assert not any(value.startswith("crashed:") for value in report.values()), report
    stolen = set(report["stolen"].split(","))
    for exercise in document["exercises"]:
        if exercise["name"] != "ex01_tensors":  # imported the payload through ex01_tensors: stubs, or what it stole
            assert exercise["error"] is None, exercise["error"]
            unexpected = {i["name"]: i["status"] for i in exercise["items"]
                          if i["status"] != "not_implemented" and not (i["name"] in stolen and i["status"] == "failed")}
            assert not unexpected, (exercise["name"], unexpected)


def test_a_stub_submission_that_attacks_the_grader_scores_nothing(escape_attempt):
    outcome = escape_attempt.outcome
    document = outcome.json()
    earned = {name: item["score"] for name, item in _items(document).items() if item["score"]}
    assert document["score"] == 0 and not earned, earned
    report = payloads.report_in(_exercise(document, "ex01_tensors"))
    assert report is not None
    assert report["refs"] == "0", f"{report['refs']} reference solution files were readable from the box"
    assert report["hidden"] == "0", f"{report['hidden']} hidden suite files were readable from the box"


def test_the_box_can_neither_remount_nor_signal_nor_write_outside(escape_attempt):
    outcome = escape_attempt.outcome
    report = payloads.report_in(_exercise(outcome.json(), "ex01_tensors"))
    assert report is not None
    assert "ok" not in report["remount"].split(",") and "+ok" not in report["remount"], report
    assert report["tmpfs"] != "ok", report
    assert report["ptrace_parent"] != "ok" and report["kill_parent"] != "ok", report
    assert report["traced"].startswith("0/") and report["signalled"].startswith("0/"), report
    assert report["wrote"].startswith("0/"), report
    assert outcome.inspected == [], f"pwned-{escape_attempt.token} was written into {outcome.inspected}"


def test_grade_check_ends_normally_and_names_the_tier_despite_the_attack(escape_attempt):
    outcome = escape_attempt.outcome
    assert outcome.returncode == 0, outcome.describe()
    document = outcome.json()
    assert document["isolation"] == harness.EXPECTED_TIER[escape_attempt.environment]
    assert document["max_score"] > 0 and len(document["exercises"]) == len(catalogue.load_catalogue())


def test_the_box_cannot_read_the_references_from_the_kits_git_history(escape_attempt):
    outcome = escape_attempt.outcome
    report = payloads.report_in(_exercise(outcome.json(), "ex01_tensors"))
    assert report is not None
    assert report["git"] != "LEAKED", (
        f"in tier {harness.EXPECTED_TIER[escape_attempt.environment]}, the worker read solutions/ex01_tensors.py with "
        f"`git -C {KIT} show HEAD:solutions/ex01_tensors.py`: the kit's .git holds every reference solution")


# ================================================================ b: a batch with an attacker first
BATCH_SELECTION = ["ex01.from_nested", "ex01.matmul", "ex06.sgd"]
BATCH_CASES = [("root", 1, 2), ("root", 2, 4), ("docker", 1, 2), ("docker", 2, 4)]  # environment, jobs, copies


def _grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


def _report_of(out: Path, name: str) -> dict | None:
    for path in sorted((out / "reports").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("submission") == name or path.stem == name:
            return document
    return None


def _after_the_batch(mark: str, beat: Path):
    def inspect(inside: harness.Inside) -> dict:
        first = beat.read_text() if beat.exists() else None
        survivors = harness.processes_mentioning(mark)
        if first is not None:
            time.sleep(2.5)  # the attacker beats every second: a live one would have changed the file by now
        survivors += harness.processes_mentioning(mark)
        second = beat.read_text() if beat.exists() else None
        return {"survivors": survivors, "beat_before": first, "beat_after": second}
    return inspect


@pytest.fixture(scope="module", params=BATCH_CASES, ids=[f"{e}-jobs{j}" for e, j, _ in BATCH_CASES])
def attacked_batch(request):
    """`grade batch` of an attacker (graded first) and exact copies of the solutions."""
    environment, jobs, copies = request.param
    harness.require(environment)
    mark = f"atk{_token()}"
    private = Path(tempfile.mkdtemp(prefix="isolation-batch-"))  # 700: no slot uid reaches it
    try:
        with harness.shared_folder("isolation-beat-") as beat_dir:
            source, out = private / "submissions", private / "out"
            attacker = harness.copy_modules(catalogue.EXERCISES_DIR, source / "aaa_attacker")
            roots = ["/tmp", "/submission", "/staging", "/var/tmp", str(source), str(out)]
            (attacker / "ex01_tensors.py").write_text(payloads.batch_attacker(mark, str(beat_dir), roots),
                                                      encoding="utf-8")
            names = [f"copy_{n}" for n in range(1, copies + 1)]
            for name in names:
                harness.copy_modules(catalogue.SOLUTIONS_DIR, source / name)
            beat = beat_dir / f"beat-{mark}"
            outcome = harness.run(environment, ["batch", source, *BATCH_SELECTION, "--out", out, "--jobs", jobs],
                                  keep=[private, beat_dir], timeout=BATCH_TIMEOUT, inspect=_after_the_batch(mark, beat))
            yield Attempt(environment, outcome, mark, {
                "grades": _grades(out) if (out / "grades.csv").exists() else {}, "copies": names,
                "attacker": _report_of(out, "aaa_attacker"), "first_copy": _report_of(out, names[0]),
                "beat_seen": beat.exists()})
    finally:
        harness.kill_processes_mentioning(mark)
        harness.remove_tree(private)


def test_every_copy_graded_after_an_attacker_gets_full_marks(attacked_batch):
    outcome, grades, copies = attacked_batch.outcome, attacked_batch.extra["grades"], attacked_batch.extra["copies"]
    assert outcome.returncode == 0, outcome.describe()
    assert set(copies) <= set(grades), (sorted(grades), outcome.describe())
    lost = {name: (grades[name]["score"], grades[name]["max_score"], grades[name]["status"]) for name in copies
            if not grades[name]["score"] or float(grades[name]["score"]) != float(grades[name]["max_score"])}
    assert not lost, f"copies of the solutions lost points after the attacker: {lost}"
    assert float(grades[copies[0]]["max_score"]) > 0
    assert attacked_batch.extra["first_copy"]["isolation"] == harness.EXPECTED_TIER[attacked_batch.environment]


def test_the_batch_attacker_really_ran_and_reached_nobody(attacked_batch):
    document = attacked_batch.extra["attacker"]
    assert document is not None, attacked_batch.outcome.describe()
    report = payloads.report_in(_exercise(document, "ex01_tensors"))
    assert report is not None and report.get("ran") == "1", document
    assert report["pyc"] == "ok" and report["chmod"] == "ok", report
    assert report["mount"] != "ok", report
    background = dict(part.split("=", 1) for part in report["bg"].split(",")[1:]) if report["bg"].startswith(
        "alive") else None
    assert background is not None, f"the background process did not start: {report['bg']}"
    assert background["signalled"] == "0", f"the attacker could signal {background['signalled']} processes"
    assert background["overwritten"] == "0", f"the attacker overwrote {background['overwritten']} ex0*.py files"


def test_no_process_of_the_batch_attacker_outlives_the_batch(attacked_batch):
    inspected = attacked_batch.outcome.inspected
    assert inspected["survivors"] == [], f"attacker processes alive after the batch: {inspected['survivors']}"
    if attacked_batch.environment == "docker":  # tier uid: the shared folder is visible, so it beat there
        assert inspected["beat_before"] is not None, "the attacker's background process never beat"
        assert inspected["beat_after"] == inspected["beat_before"], "the attacker still beats after the batch"
    else:  # tier namespaces: the host's folders do not exist in the box
        assert not attacked_batch.extra["beat_seen"], "the attacker wrote into a folder of the host"


# ================================================================ c: the tiers each environment gets
def test_without_user_namespaces_an_unprivileged_user_grades_with_reduced_isolation_and_a_warning():
    harness.require("user-no-userns")
    with harness.shared_folder() as shared:
        submission = harness.copy_modules(catalogue.SOLUTIONS_DIR, shared / "mine")
        outcome = harness.run("user-no-userns", ["check", "--submission", submission, "--json", "ex01"],
                              keep=[shared], timeout=CHECK_TIMEOUT)
    document = outcome.json()
    assert outcome.returncode == 0, outcome.describe()
    assert document["isolation"] == "reduced"
    assert document["score"] == document["max_score"] > 0, _items(document)
    assert "isolation is reduced" in outcome.stderr.lower(), outcome.stderr


def test_grade_batch_refuses_reduced_isolation_unless_allowed():
    harness.require("user-no-userns")
    with harness.shared_folder() as shared:
        harness.copy_modules(catalogue.SOLUTIONS_DIR, shared / "submissions" / "student")
        os.chmod(shared / "submissions", 0o777)
        outcome = harness.run("user-no-userns", ["batch", shared / "submissions", "ex01.from_nested",
                                                 "--out", shared / "out", "--jobs", "1"],
                              keep=[shared], timeout=CHECK_TIMEOUT)
        graded = (shared / "out" / "grades.csv").exists()
    assert outcome.returncode in (1, 2), outcome.describe()
    assert "--allow-unsandboxed" in outcome.stdout + outcome.stderr, outcome.describe()
    assert "Traceback" not in outcome.stderr, outcome.describe()
    assert not graded, "grade batch graded the class with reduced isolation"


def test_in_a_docker_container_grade_check_gives_full_marks_with_uid_isolation():
    harness.require("docker")
    with harness.shared_folder() as shared:
        submission = harness.copy_modules(catalogue.SOLUTIONS_DIR, shared / "mine")
        outcome = harness.run("docker", ["check", "--submission", submission, "--json", "ex01"], keep=[shared],
                              timeout=CHECK_TIMEOUT)
    document = outcome.json()
    assert outcome.returncode == 0, outcome.describe()
    assert document["isolation"] == "uid", outcome.describe()
    assert document["score"] == document["max_score"] > 0, _items(document)


def test_an_unprivileged_user_with_bubblewrap_gets_namespace_isolation():
    harness.require("user")
    with harness.shared_folder() as shared:
        submission = harness.copy_modules(catalogue.SOLUTIONS_DIR, shared / "mine")
        outcome = harness.run("user", ["check", "--submission", submission, "--json", "ex01.from_nested"],
                              keep=[shared], timeout=CHECK_TIMEOUT)
    document = outcome.json()
    assert outcome.returncode == 0, outcome.describe()
    assert document["isolation"] == "namespaces", outcome.stderr[-2000:]
    assert document["score"] == document["max_score"] > 0, _items(document)


# ================================================================ d: the disk
DISK_ENVIRONMENTS = ["root", "docker"]


def _environment_tmp(token: str):
    def inspect(inside: harness.Inside) -> dict:
        found = {}
        for place in ("tmp", "var/tmp", "dev/shm"):
            folder = inside.root / place
            usage = os.statvfs(folder)
            found[place] = {
                "used_bytes": (usage.f_blocks - usage.f_bfree) * usage.f_frsize,
                "used_inodes": usage.f_files - usage.f_ffree,
                "owned_by_box_uids": harness.files_owned_by(folder, [*harness.SLOT_UIDS, harness.BOX_UID]),
                "hogs": [str(p) for p in folder.rglob(f"hog-{token}*")],
            }
        return found
    return inspect


@pytest.fixture(scope="module", params=DISK_ENVIRONMENTS)
def disk_hogs(request):
    """ex01.from_nested writes 2 GiB into /tmp; ex02.load_temperatures 1000 files of 1 MiB into its folder."""
    environment = request.param
    harness.require(environment)
    token = _token()
    with harness.shared_folder("isolation-disk-") as shared:
        submission = harness.copy_modules(catalogue.SOLUTIONS_DIR, shared / "hogs")
        for name, extra in (("ex01_tensors.py", payloads.hog_tmp(token)),
                            ("ex02_gradient_descent.py", payloads.hog_own_folder(token))):
            (submission / name).write_text((submission / name).read_text(encoding="utf-8") + extra, encoding="utf-8")
        outcome = harness.run(environment, ["check", "--submission", submission, "--json", "ex01.from_nested",
                                            "ex02.load_temperatures"], keep=[shared], timeout=CHECK_TIMEOUT,
                              inspect=_environment_tmp(token))
        leftovers = [str(p) for p in Path("/tmp").glob(f"hog-{token}*")]
        yield Attempt(environment, outcome, token, {"host_leftovers": leftovers})


@pytest.mark.parametrize("item", ["ex01_tensors.from_nested", "ex02_gradient_descent.load_temperatures"])
def test_writing_past_the_disk_limit_crashes_the_item_with_a_clear_reason(disk_hogs, item):
    outcome = disk_hogs.outcome
    assert outcome.returncode == 0, outcome.describe()
    result = _items(outcome.json())[item]
    feedback = "\n".join(result["feedback"])
    assert result["status"] == "crashed", (result["status"], feedback)
    assert "file size limit" in feedback or "memory limit" in feedback, feedback
    assert "never stopped" not in feedback


def test_nothing_a_disk_hog_wrote_is_left_in_the_shared_temporary_folders(disk_hogs):
    places = disk_hogs.outcome.inspected
    assert not disk_hogs.extra["host_leftovers"], disk_hogs.extra["host_leftovers"]
    for place, found in places.items():
        assert found["hogs"] == [], (place, found["hogs"][:5])
        assert found["owned_by_box_uids"] == [], (place, found["owned_by_box_uids"][:5])
        # each of these is a fresh tmpfs for the run: what the grader itself keeps there is small
        assert found["used_bytes"] < 16 * 2**20, (place, found["used_bytes"])
