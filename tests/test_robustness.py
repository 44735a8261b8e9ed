"""Nothing a submission sends or does can stop, hang or crash the grader; every submission gets a row.

One class folder holds the reference solutions, the stubs, an entry named ``expected.pt`` and seven
hostile submissions (each the reference of ex02 and ex06 with one attack added, so everything else
must keep its marks). It is graded by ``grade batch`` (once whole, once interrupted and resumed), and
each hostile one by ``grade check --json``. Every attack leaves a trace (a marker value, an
exception, the size it announced) in its item's feedback, so a passing test proves the attack ran
and was survived, not skipped; every process a submission starts carries ``MARKER`` in its command
line, so ``pgrep`` finds any that outlives its box.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import catalogue

EX02 = "ex02_gradient_descent"
EX06 = "ex06_data"
MODULES = (EX02, EX06)
SELECTION = ("ex02", "ex06")
CHECK_TIMEOUT = 240.0  # seconds; a generous bound on one `grade check` on a loaded 2-core machine
BATCH_TIMEOUT = 600.0
MARKER = f"robust{os.getpid()}x{time.monotonic_ns()}"  # in the name of every process a submission starts
FORK_MARK = 4242.0  # what the forking squared_loss returns once its daemon and its child both run
HUGE_FRAME = 256 * 2**20


def _reference(module: str) -> str:
    return (catalogue.SOLUTIONS_DIR / f"{module}.py").read_text(encoding="utf-8")


def _stub(module: str) -> str:
    return (catalogue.EXERCISES_DIR / f"{module}.py").read_text(encoding="utf-8")


def _with(module: str, *code: str) -> str:
    """The reference of ``module`` with ``code`` added at its end (a later ``def`` replaces the first)."""
    return _reference(module) + "\n\n" + "\n".join(textwrap.dedent(part) for part in code)


_FIND_PROTOCOL_SOCKET = """
    import os, socket, struct, time

    def _protocol_socket():
        # the worker keeps only its protocol's descriptors: the one socket among them is the grader's
        for name in sorted(os.listdir("/proc/self/fd"), key=int):
            try:
                if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                    return socket.socket(fileno=os.dup(int(name)))
            except OSError:
                continue
        raise RuntimeError("no protocol socket found")

    def _trickle(announced):
        sock = _protocol_socket()
        sock.sendall(struct.pack("!Q", announced))
        while True:
            sock.sendall(b"x")
            time.sleep(2)
"""


@dataclass(frozen=True)
class Trace:
    """Where an attack shows: an item, the statuses it may end with, and words its feedback must then hold."""

    module: str
    item: str
    outcomes: dict[str, str]


@dataclass(frozen=True)
class Attack:
    """A hostile submission: its files, where its attack shows, and the module that must keep full marks."""

    name: str
    files: dict[str, str]
    traces: tuple[Trace, ...]
    intact: str


def attacks() -> list[Attack]:
    """The hostile submissions, each the reference of ex02 and ex06 with one attack added."""
    return [
        Attack("daemon_and_fork", {EX02: _reference(EX02), EX06: _with(EX06, f"""
            import os, subprocess, torch
            _DAEMON = subprocess.Popen(["{MARKER}-daemon", "1000"], executable="sleep", start_new_session=True)

            def squared_loss(y_hat, y):
                child = os.fork()
                if child == 0:
                    try:
                        os.execvp("sleep", ["{MARKER}-child", "1000"])
                    finally:
                        os._exit(127)
                alive = _DAEMON.poll() is None
                return torch.full_like(y_hat, {FORK_MARK} if alive else -1.0)
        """)}, (Trace(EX06, "squared_loss", {"failed": f"got {FORK_MARK:g}"}),), intact=EX02),
        Attack("kills_its_parent", {EX02: _with(EX02, """
            import os, signal
            _PARENT = os.getppid()
            os.kill(_PARENT, signal.SIGKILL)

            def load_temperatures():  # reached only where the kill did nothing (its parent is out of reach)
                raise RuntimeError(f"os.kill({_PARENT}, SIGKILL) returned and this worker still runs")
        """), EX06: _reference(EX06)}, (Trace(EX02, "load_temperatures", {
            "failed": "SIGKILL) returned and this worker still runs",  # namespaces: PID 1 has no parent in sight
            "error": "PermissionError",  # uid: the keeper is root
            "crashed": "SIGKILL",  # reduced: the keeper died, and the worker with it
        }),), intact=EX06),
        Attack("writes_its_socket", {EX02: _with(EX02, _FIND_PROTOCOL_SOCKET, f"""
            def loss_fn(t_p, t_c):
                _trickle({HUGE_FRAME})  # over the grader's frame limit: refused from its header

            def load_temperatures():
                _trickle(2**20)  # under it: a byte every 2 s never completes the frame
        """), EX06: _reference(EX06)}, (
            Trace(EX02, "loss_fn", {"crashed": f"a message of {HUGE_FRAME} bytes, over the limit"}),
            Trace(EX02, "load_temperatures", {"timeout": "of wall-clock time"}),
        ), intact=EX06),
        Attack("huge_int", {EX02: _with(EX02, """
            def loss_fn(t_p, t_c):
                return 10**400
        """), EX06: _reference(EX06)}, (Trace(EX02, "loss_fn", {"failed": "got an int of 401 digits"}),),
            intact=EX06),
        Attack("sparse_result", {EX02: _with(EX02, """
            import torch
            def model(t_u, w, b):
                dense = w * t_u + b
                n = dense.shape[0]
                return torch.sparse_coo_tensor(torch.arange(n).unsqueeze(0), dense, (n,))
        """), EX06: _reference(EX06)}, (Trace(EX02, "model", {"failed": "got a sparse_coo tensor of shape (11,)"}),),
            intact=EX06),
        Attack("leaves_locked_files", {EX02: _with(EX02, """
            import os
            with open("read_only.txt", "w") as _file:
                _file.write("cannot touch this")
            os.chmod("read_only.txt", 0o444)
            os.makedirs("locked/deeper")
            with open("locked/deeper/inside.txt", "w") as _file:
                _file.write("hidden")
            os.chmod("locked/deeper", 0)
            os.chmod("locked", 0)

            def load_temperatures():
                modes = {n: oct(os.stat(n).st_mode & 0o777) for n in ("read_only.txt", "locked")}
                raise ValueError(f"left behind {sorted(modes.items())}")
        """), EX06: _reference(EX06)}, (Trace(EX02, "load_temperatures", {
            "failed": "left behind [('locked', '0o0'), ('read_only.txt', '0o444')]"}),), intact=EX06),
        Attack("stride_zero", {EX02: _reference(EX02), EX06: _with(EX06, """
            import torch
            def linreg(X, w, b):
                return torch.zeros(1).expand(805_000_000)  # 4 bytes of storage, 3 GiB if ever copied
        """)}, (Trace(EX06, "linreg", {"failed": "a tensor of 805000000 elements"}),), intact=EX02),
    ]


ATTACKS = {attack.name: attack for attack in attacks()}
ENTRIES = sorted(["solutions_copy", "stubs_copy", "expected.pt", *ATTACKS])


# ---------------------------------------------------------------- running the grade command
def _start(args: list[str], stdout: object = subprocess.PIPE, stderr: object = subprocess.PIPE) -> subprocess.Popen:
    """``grade ARGS`` in a session of its own (so that a run past its time can be killed whole)."""
    return subprocess.Popen([sys.executable, "-m", "grader.cli", *args], stdout=stdout, stderr=stderr, text=True,
                            cwd=catalogue.SOLUTIONS_DIR.parent, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    """Kill a grade command that is still running, with everything in its session."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _grade(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    process = _start(args)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        _stop(process)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _survivors() -> list[str]:
    """The processes a submission started that still run, after a moment for the boxes' teardown."""
    deadline = time.monotonic() + 10
    while True:
        found = subprocess.run(["pgrep", "-af", MARKER], capture_output=True, text=True, check=False).stdout
        if not found.strip() or time.monotonic() > deadline:
            return found.splitlines()
        time.sleep(0.5)


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


def _report(out: Path, name: str) -> dict:
    return json.loads((out / "reports" / f"{name}.json").read_text(encoding="utf-8"))


def _items(report: dict) -> dict[str, dict]:
    """``module.item`` -> the item's JSON (status, score, feedback)."""
    return {f"{e['name']}.{i['name']}": i for e in report["exercises"] for i in e["items"]}


def _assert_attack_shows(attack: Attack, report: dict, whole: bool = True) -> None:
    """Each traced item ended with an expected status whose feedback says what happened; the untouched
    module (graded when ``whole``) kept every point."""
    items = _items(report)
    for trace in attack.traces:
        item = items[f"{trace.module}.{trace.item}"]
        assert item["status"] in trace.outcomes, (attack.name, trace.item, item)
        feedback = "\n".join(item["feedback"])
        assert trace.outcomes[item["status"]] in feedback, (attack.name, trace.item, item)
        assert item["score"] < item["max_score"], (attack.name, trace.item, item)
    if not whole:
        return
    exercises = {e["name"]: e for e in report["exercises"]}
    kept = exercises[attack.intact]
    assert kept["score"] == kept["max_score"], (attack.name, [i for i in kept["items"] if i["status"] != "passed"])


# ---------------------------------------------------------------- the class
@pytest.fixture(scope="module")
def class_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Solutions, stubs, an entry named like a grader file, and every attack: one folder each."""
    root = tmp_path_factory.mktemp("robustness") / "submissions"
    root.mkdir()
    no_caches = shutil.ignore_patterns("__pycache__")
    shutil.copytree(catalogue.SOLUTIONS_DIR, root / "solutions_copy", ignore=no_caches)
    shutil.copytree(catalogue.EXERCISES_DIR, root / "stubs_copy", ignore=no_caches)
    (root / "expected.pt").mkdir()
    for module in MODULES:
        (root / "expected.pt" / f"{module}.py").write_text(_stub(module), encoding="utf-8")
    for attack in ATTACKS.values():
        (root / attack.name).mkdir()
        for module, source in attack.files.items():
            (root / attack.name / f"{module}.py").write_text(source, encoding="utf-8")
    return root


@dataclass
class BatchRun:
    out: Path
    result: subprocess.CompletedProcess
    survivors: list[str]
    submissions_changed: bool


def _digest(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``root`` with its mode and content hash."""
    return {str(p.relative_to(root)): (p.lstat().st_mode, hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file()
                                       else "") for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def graded_class(class_folder: Path) -> BatchRun:
    """``grade batch`` over the whole class, two jobs at a time."""
    out = class_folder.parent / "out"
    before = _digest(class_folder)
    result = _grade(["batch", str(class_folder), *SELECTION, "--out", str(out), "--jobs", "2", "--memory-limit", "2"],
                    BATCH_TIMEOUT)
    return BatchRun(out, result, _survivors(), _digest(class_folder) != before)


def test_a_batch_of_hostile_submissions_exits_0_with_a_row_for_every_entry(graded_class, class_folder):
    assert graded_class.result.returncode == 0, graded_class.result.stderr[-3000:]
    rows = _rows(graded_class.out)
    assert sorted(rows) == ENTRIES
    assert all(row["status"] == "ok" for row in rows.values()), rows
    assert not (graded_class.out / ".grader").exists(), "the batch left its working copies behind"
    assert not graded_class.submissions_changed, "grading changed a submission's folder"


def test_the_solutions_get_full_marks_and_the_stubs_and_an_entry_named_expected_pt_none(graded_class):
    rows = _rows(graded_class.out)
    assert float(rows["solutions_copy"]["score"]) == float(rows["solutions_copy"]["max_score"]) > 0
    for name in ("stubs_copy", "expected.pt"):
        assert float(rows[name]["score"]) == 0, rows[name]
        statuses = {item["status"] for item in _items(_report(graded_class.out, name)).values()}
        assert statuses == {"not_implemented"}, (name, statuses)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_attack_in_the_batch_ends_as_a_status_naming_what_happened(graded_class, name):
    report = _report(graded_class.out, name)
    _assert_attack_shows(ATTACKS[name], report)
    rows = _rows(graded_class.out)
    assert float(rows[name]["score"]) == report["score"] < float(rows[name]["max_score"])


def test_no_process_a_submission_started_outlives_the_batch(graded_class):
    assert graded_class.survivors == [], "processes started by a submission outlived the batch"


def test_a_batch_interrupted_then_resumed_writes_the_same_gradebook(graded_class, class_folder):
    out = class_folder.parent / "interrupted"
    args = ["batch", str(class_folder), *SELECTION, "--out", str(out), "--jobs", "2", "--memory-limit", "2"]
    first = _start(args)
    try:
        deadline = time.monotonic() + BATCH_TIMEOUT
        while first.poll() is None and time.monotonic() < deadline and len(list(out.glob("reports/*.json"))) < 2:
            time.sleep(0.05)
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=120)
    finally:
        _stop(first)
    assert first.returncode == 130 and "--resume" in stderr, stderr[-3000:]
    kept = len(list(out.glob(".state/*.json")))
    assert 2 <= kept < len(ENTRIES)

    resumed = _grade([*args, "--resume"], BATCH_TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (out / "grades.csv").read_text() == (graded_class.out / "grades.csv").read_text()
    assert json.loads((out / "summary.json").read_text())["skipped_by_resume"] == kept
    assert _survivors() == []


# ---------------------------------------------------------------- one submission at a time
def _check_all(class_folder: Path, folder: Path, at_once: int = 3) -> dict[str, tuple[int | None, float]]:
    """``grade check --json`` on each attack's module(s), ``at_once`` at a time (most of a run is waiting for
    torch imports and deadlines); each run is bounded on its own. Name -> (exit status, seconds)."""
    waiting = list(ATTACKS)
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    finished: dict[str, tuple[int | None, float]] = {}
    try:
        while waiting or running:
            while waiting and len(running) < at_once:
                name = waiting.pop(0)
                attacked = sorted({trace.module.split("_")[0] for trace in ATTACKS[name].traces})
                args = ["check", "--json", "--submission", str(class_folder / name), *attacked]
                with open(folder / f"{name}.json", "w") as stdout, open(folder / f"{name}.err", "w") as stderr:
                    running[name] = (_start(args, stdout, stderr), time.monotonic())
            for name, (process, started) in list(running.items()):
                if process.poll() is not None or time.monotonic() - started > CHECK_TIMEOUT:
                    _stop(process)
                    finished[name] = (process.returncode, time.monotonic() - started)
                    del running[name]
            time.sleep(0.2)
    finally:
        for process, _ in running.values():
            _stop(process)
    return finished


def test_grade_check_prints_a_json_report_naming_each_attack_within_its_limits(graded_class, class_folder, tmp_path):
    finished = _check_all(class_folder, tmp_path)
    problems = {}
    for name, (code, seconds) in finished.items():
        try:
            assert code == 0 and seconds < CHECK_TIMEOUT, (code, seconds, (tmp_path / f"{name}.err").read_text()[-2000:])
            report = json.loads((tmp_path / f"{name}.json").read_text())  # the whole of stdout: one document
            assert report["schema"] == 4
            _assert_attack_shows(ATTACKS[name], report, whole=False)
            in_batch = _items(_report(graded_class.out, name))
            assert {key: (item["status"], item["score"]) for key, item in _items(report).items()} == {
                key: (in_batch[key]["status"], in_batch[key]["score"]) for key in _items(report)}, "unlike the batch"
        except AssertionError as failure:
            problems[name] = str(failure)[:1500]
    assert not problems, "\n\n".join(f"{name}: {text}" for name, text in problems.items())
    assert _survivors() == []


def test_the_solutions_keep_full_marks_beside_two_cpu_burning_processes():
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        result = _grade(["check", "--submission", str(catalogue.SOLUTIONS_DIR), "--json", "ex02", "ex04", "ex09"],
                        CHECK_TIMEOUT)
        still_burning = [burner.poll() is None for burner in burners]
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert still_burning == [True, True]
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    unpassed = {name: item for name, item in _items(report).items() if item["status"] != "passed"}
    assert not unpassed, unpassed
    assert report["score"] == report["max_score"] > 0


PATCH_VICTIMS = ["ex01", "ex03", "ex06", "ex07", "ex09"]  # ex01 patches; equality, dtypes and grad mode matter to the rest


def test_a_module_that_patches_torch_globally_costs_no_other_module_a_point(grading_service, modules, tmp_path):
    shutil.copytree(catalogue.SOLUTIONS_DIR, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "ex01_tensors.py").write_text(_with("ex01_tensors", """
        import torch
        torch.equal = lambda a, b: True
        torch.Tensor.__eq__ = lambda self, other: True
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        _PATCHED = (f"torch.equal(0, 1) is {torch.equal(torch.zeros(1), torch.ones(1))}, default dtype "
                    f"{torch.get_default_dtype()}, grad enabled {torch.is_grad_enabled()}")

        def mean_of(t):
            raise RuntimeError(f"patched at import: {_PATCHED}")
    """), encoding="utf-8")
    report = grading_service.grade(tmp_path, catalogue.select(PATCH_VICTIMS, modules))
    by_name = {e.name: e for e in report.exercises}
    patched = next(i for i in by_name.pop("ex01_tensors").items if i.name == "mean_of")
    assert ("patched at import: torch.equal(0, 1) is True, default dtype torch.float64, grad enabled False"
            in "\n".join(patched.feedback)), patched
    assert len(by_name) == len(PATCH_VICTIMS) - 1
    lost = {(e.name, i.name): (i.status, i.feedback) for e in by_name.values() for i in e.items if i.status != "passed"}
    assert not lost, lost
