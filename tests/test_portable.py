"""The portable tier (macOS): no zygote, a freshly spawned worker per box, limits and a ps watch.

It is tested here, on Linux, by forcing it with ``GRADER_ISOLATION=portable``; nothing here ran on
a real Mac. Each box imports torch, so the tests keep to one or two small modules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from grader import catalogue, engine, linux, portable, sandbox, wire
from grader.cli import main

CHECK_TIMEOUT = 300


@pytest.fixture
def portable_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the portable tier for this test only (the tier other tests found stays remembered)."""
    monkeypatch.setenv("GRADER_ISOLATION", "portable")
    monkeypatch.setattr(sandbox, "_working_tier", sandbox._working_tier)


def _module(folder: Path, source_dir: Path, name: str, tail: str = "") -> None:
    source = (source_dir / f"{name}.py").read_text(encoding="utf-8")
    (folder / f"{name}.py").write_text(source + "\n\n" + textwrap.dedent(tail), encoding="utf-8")


def _items(report) -> dict:
    return {f"{e.name}.{i.name}": i for e in report.exercises for i in e.items}


# ================================================================ `grade check` through the portable tier
DAEMON_TAIL = """
import subprocess as _subprocess
import sys as _sys
_DAEMON = "import os, sys, time; open(sys.argv[2], 'w').write(str(os.getpid())); time.sleep(300)"
for _new_session in (False, True):  # one daemon in the worker's process group, one in a session of its own
    _subprocess.Popen([_sys.executable, "-c", _DAEMON, "{marker}", f"{evidence}/daemon-{{_new_session}}"],
                      start_new_session=_new_session, stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
"""


@pytest.fixture(scope="module")
def portable_check(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`grade check ex01 ex02 --json` with GRADER_ISOLATION=portable: ex01 solved (and starting two daemons
    when imported), ex02 the stub; the grader's temporary folders live in a folder of this test's own."""
    root = tmp_path_factory.mktemp("portable-check")
    submission, temporary, evidence = root / "submission", root / "tmp", root / "evidence"
    for folder in (submission, temporary, evidence):
        folder.mkdir()
    marker = f"portable-daemon-{uuid.uuid4().hex[:12]}"
    _module(submission, catalogue.SOLUTIONS_DIR, "ex01_tensors", DAEMON_TAIL.format(marker=marker, evidence=evidence))
    _module(submission, catalogue.EXERCISES_DIR, "ex02_gradient_descent")
    environment = {**os.environ, "GRADER_ISOLATION": "portable", "TMPDIR": str(temporary)}
    grade = shutil.which("grade") or "grade"
    done = subprocess.run([grade, "check", "ex01", "ex02", "--submission", str(submission), "--json"],
                          capture_output=True, text=True, env=environment, timeout=CHECK_TIMEOUT, check=False)
    yield {"done": done, "marker": marker, "temporary": str(temporary), "evidence": evidence}
    _kill_processes_mentioning(marker, str(temporary))  # should the test fail, leave the machine clean


def _processes_mentioning(*needles: str) -> list[str]:
    listing = subprocess.run(["ps", "-A", "-ww", "-o", "pid=", "-o", "args="], capture_output=True, text=True,
                             check=True).stdout
    return [line.strip() for line in listing.splitlines() if any(needle in line for needle in needles)]


def _kill_processes_mentioning(*needles: str) -> None:
    for line in _processes_mentioning(*needles):
        try:
            os.kill(int(line.split()[0]), 9)
        except (ProcessLookupError, ValueError):
            pass


def _exercise(done: subprocess.CompletedProcess, name: str) -> dict:
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(done.stdout)
    assert document["isolation"] == "portable"
    return next(e for e in document["exercises"] if e["name"] == name)


def test_grade_check_gives_the_solutions_full_marks_in_the_portable_tier(portable_check):
    ex01 = _exercise(portable_check["done"], "ex01_tensors")
    assert ex01["error"] is None
    assert ex01["score"] == ex01["max_score"] > 0, [(i["name"], i["feedback"]) for i in ex01["items"]
                                                      if i["status"] != "passed"]


def test_grade_check_gives_the_stubs_nothing_in_the_portable_tier(portable_check):
    ex02 = _exercise(portable_check["done"], "ex02_gradient_descent")
    assert ex02["score"] == 0
    assert {item["status"] for item in ex02["items"]} == {"not_implemented"}


def test_no_worker_or_daemon_of_the_submission_outlives_the_run(portable_check):
    assert portable_check["done"].returncode == 0, portable_check["done"].stderr[-3000:]
    started = sorted(path.name for path in portable_check["evidence"].iterdir())
    assert started == ["daemon-False", "daemon-True"], "the daemons did not start: this test would prove nothing"
    left = _processes_mentioning(portable_check["marker"], portable_check["temporary"])
    assert not left, left


def test_a_forced_portable_tier_prints_no_platform_notice(portable_check):
    assert portable.PORTABLE_NOTICE not in portable_check["done"].stderr


# ================================================================ hostile submissions, through the service
ENDLESS_LOOP = """
def loss_fn(t_p, t_c):
    while True:
        pass
"""
MEMORY_BOMB = """
import torch
def training_loop(n_epochs, learning_rate, params, t_u, t_c):
    hog = torch.ones(3 * 2**30 // 4)  # 3 GiB, touched
    while True:
        hog.add_(1)
"""


def test_an_endless_loop_times_out_and_the_next_item_passes_in_a_fresh_worker(portable_tier, modules, tmp_path):
    _module(tmp_path, catalogue.SOLUTIONS_DIR, "ex02_gradient_descent", ENDLESS_LOOP)
    with engine.GradingService(torch.device("cpu")) as service:
        assert service.isolation == "portable"
        report = service.grade(tmp_path, catalogue.select(["ex02.loss_fn", "ex02.dloss_fn"], modules))
    items = _items(report)
    looping, after = items["ex02_gradient_descent.loss_fn"], items["ex02_gradient_descent.dloss_fn"]
    assert looping.status == "timeout", (looping.status, looping.feedback)
    assert "did not finish within 5 s of CPU time" in "\n".join(looping.feedback) or "wall-clock" in "\n".join(
        looping.feedback)  # wall-clock: a loaded machine
    assert after.status == "passed", (after.status, after.feedback)


def test_a_memory_bomb_is_stopped_with_the_memory_limit_sentence(portable_tier, modules, tmp_path):
    _module(tmp_path, catalogue.SOLUTIONS_DIR, "ex02_gradient_descent", MEMORY_BOMB)
    with engine.GradingService(torch.device("cpu"), memory_limit=int(1.5 * 2**30)) as service:
        items = _items(service.grade(tmp_path, catalogue.select(["ex02.training_loop"], modules)))
    bomb = items["ex02_gradient_descent.training_loop"]
    assert bomb.status == "crashed", (bomb.status, bomb.feedback)
    assert "memory limit: the worker used more than 1.5 GiB and was stopped" in "\n".join(bomb.feedback)


SABOTEUR = """
import glob as _glob
import os as _os
_sabotaged = []
for _path in _glob.glob(_os.path.join(_os.getcwd(), "..", "..", "staging", "*", "ex0[23]_*.py")):
    with open(_path, "w") as _file:
        _file.write("raise ImportError('sabotaged by ex01')\\n")
    _sabotaged.append(_os.path.basename(_path))
with open({evidence!r}, "w") as _file:
    _file.write(",".join(sorted(_sabotaged)))
"""


def test_a_worker_cannot_change_the_staged_files_the_next_modules_get(portable_tier, modules, tmp_path):
    submission, evidence = tmp_path / "submission", tmp_path / "evidence.txt"
    submission.mkdir()
    _module(submission, catalogue.EXERCISES_DIR, "ex01_tensors", SABOTEUR.format(evidence=str(evidence)))
    _module(submission, catalogue.EXERCISES_DIR, "ex02_gradient_descent")
    _module(submission, catalogue.SOLUTIONS_DIR, "ex03_autograd")
    with engine.GradingService(torch.device("cpu")) as service:
        report = service.grade(submission, catalogue.select(["ex01", "ex02", "ex03"], modules))
    assert evidence.read_text() == "ex02_gradient_descent.py,ex03_autograd.py", "the sabotage did not run"
    ex03 = next(e for e in report.exercises if e.name == "ex03_autograd")
    assert ex03.error is None, ex03.error
    assert ex03.score == ex03.max_score > 0  # built after ex01's code ran, from the files as staged
    assert (submission / "ex03_autograd.py").read_text().startswith('"""')  # the submission itself is only read


def test_batch_grading_refuses_the_portable_tier_unless_allowed(portable_tier):
    with pytest.raises(catalogue.UsageError, match="--allow-unsandboxed"):
        engine.probe_isolation(torch.device("cpu"), allow_reduced=False)
    assert engine.probe_isolation(torch.device("cpu"), allow_reduced=True) == "portable"


# ================================================================ platforms
def test_native_windows_is_refused_in_one_line_that_names_wsl(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 2
    message = result.output.strip()
    assert len(message.splitlines()) == 1 and "WSL 2" in message and "wsl --install" in message, message


WINDOWS_LIKE = """
import sys
import click  # as imported on Linux: on Windows it would load its console support instead
for name in ("fcntl", "resource", "termios"):
    sys.modules[name] = None  # missing, as on Windows
sys.platform = "win32"
from grader.cli import main
main(["check"], prog_name="grade")
"""


def test_grade_imports_without_posix_modules_and_stops_with_status_2_on_windows():
    done = subprocess.run([sys.executable, "-c", WINDOWS_LIKE], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout == "" and done.stderr == f"Error: {portable.WINDOWS_REFUSAL}\n"


def test_only_linux_and_macos_are_served():
    assert portable.platform_refusal("linux") is None
    assert portable.platform_refusal("darwin") is None
    assert "WSL" in portable.platform_refusal("cygwin")
    assert "Linux and macOS only" in portable.platform_refusal("freebsd14")


def test_on_macos_the_portable_tier_is_chosen_and_the_linux_tiers_say_why_not(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(sandbox, "_working_tier", None)
    monkeypatch.delenv("GRADER_ISOLATION", raising=False)
    monkeypatch.delenv("GRADER_SANDBOX", raising=False)
    assert sandbox.candidate_tiers() == [("portable", None)]
    monkeypatch.setenv("GRADER_ISOLATION", "namespaces")
    [(tier, why_not)] = sandbox.candidate_tiers()
    assert tier == "namespaces" and "needs Linux" in why_not


def test_on_linux_the_portable_tier_is_used_only_when_forced(monkeypatch):
    monkeypatch.setattr(sandbox, "_working_tier", None)
    monkeypatch.delenv("GRADER_ISOLATION", raising=False)
    monkeypatch.delenv("GRADER_SANDBOX", raising=False)
    assert "portable" not in [tier for tier, _ in sandbox.candidate_tiers()]
    assert sandbox.is_weak_tier("portable") and sandbox.is_weak_tier("reduced")
    assert not sandbox.is_weak_tier("namespaces")


def test_a_linux_only_call_missing_from_the_c_library_is_an_oserror_naming_the_platform():
    with pytest.raises(OSError, match="exists only on Linux"):
        linux._linux_call("no_such_linux_call")


def test_mps_tensors_are_a_known_device_and_refused_only_where_mps_is_missing():
    assert "mps" in wire.TENSOR_DEVICE_TYPES
    expected = "cannot use" if not torch.backends.mps.is_available() else None
    if expected is None:
        assert wire._fast_device("mps").type == "mps"
    else:
        with pytest.raises(wire.ProtocolError, match=expected):
            wire._fast_device("mps")


# ================================================================ ps, read the same way on macOS and Linux
def test_cpu_times_are_read_in_the_formats_of_linux_and_macos():
    assert portable.parse_cpu_time("00:00:04") == 4  # Linux: [DD-]HH:MM:SS
    assert portable.parse_cpu_time("2-01:00:03") == 2 * 86400 + 3600 + 3
    assert portable.parse_cpu_time("0:04.25") == pytest.approx(4.25)  # macOS: [[DD-]HH:]MM:SS.ss
    assert portable.parse_cpu_time("1:02:03.50") == pytest.approx(3723.5)


def test_a_box_is_the_workers_descendants_and_what_is_left_in_its_group():
    table = portable.parse_process_table(textwrap.dedent("""\
        1 0 1 100 0:01.00
        50 1 50 2000 00:00:02
        51 50 50 1000 00:00:00
        52 51 52 1000 00:00:00
        53 1 50 500 00:00:00
        60 1 60 9999 00:00:09
        garbage line
    """))
    assert portable.box_members(table, 50) == [50, 51, 52, 53]
    assert table[50].resident == 2000 * 1024 and table[50].cpu == 2.0
    assert portable.box_members(table, 99) == []


def test_a_workers_end_is_reported_in_the_zygotes_words():
    assert portable.exit_record(-24, None)["kind"] == "timeout"  # SIGXCPU: its CPU time ran out
    killed = portable.exit_record(-9, None)
    assert killed["kind"] == "crashed" and "SIGKILL" in killed["status"] and killed["code"] is None
    assert "exited with code 7" in portable.exit_record(7, None)["status"]
    stopped = portable.exit_record(-9, "memory limit: the worker used more than 1.5 GiB and was stopped")
    assert stopped == {"kind": "crashed", "status": "memory limit: the worker used more than 1.5 GiB and was stopped",
                       "code": None}


def test_the_portable_notice_is_one_line_shown_once_when_the_tier_was_not_forced(monkeypatch, capsys):
    monkeypatch.delenv("GRADER_ISOLATION", raising=False)
    monkeypatch.delenv("GRADER_SANDBOX", raising=False)
    monkeypatch.setattr(portable, "_notice_shown", False)
    portable._show_notice_once()
    portable._show_notice_once()
    assert capsys.readouterr().err == portable.PORTABLE_NOTICE + "\n"
