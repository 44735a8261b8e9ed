"""GitHub Classroom: ``grade classroom OUT`` writes an assignment template, and its grading steps run here.

The template is the handout of the selected modules (as ``grade release`` writes it: stubs, the grader,
public checks, no answers) plus ``.github/workflows/classroom.yml``:

1. check out the student's repository, set up Python, install bubblewrap and the grader (CPU-only torch);
2. one step per exercise module (``id: ex02``): ``python -m grader.classroom ex02`` grades the module (or the
   selection's items of it) and writes the step's ``result`` output: base64 of the JSON document GitHub
   Classroom's graders write (``{"version": 1, "status", "max_score", "tests": [...]}``), one test per item
   whose ``score`` is the item's partial score;
3. ``classroom-resources/autograding-grading-reporter`` reads each step's output from ``EXNN_RESULTS`` and
   records the sum of the tests' scores as the Classroom total, so partial credit reaches it exactly.

With ``--hidden-repo OWNER/NAME`` the workflow also checks out the instructor's private kit (hidden suites and
references) with a read-only token and grades with the full suites from there.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from pathlib import Path

from grader import TORCH_REQUIREMENTS, assignments, catalogue

WORKFLOW_PATH = Path(".github") / "workflows" / "classroom.yml"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
HIDDEN_KIT_DIR = ".grader-kit"
TOKEN_SECRET = "GRADER_KIT_TOKEN"
REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
CPU_TORCH = "python -m pip install --index-url https://download.pytorch.org/whl/cpu " + " ".join(
    f'"{requirement}"' for requirement in TORCH_REQUIREMENTS)
STEP_MINUTES = 10  # per module: the grader's own limits end far sooner; this only stops a broken runner


STUDENT_SECTION = """
## Grading on GitHub Classroom

Every push to this repository is graded by GitHub Actions with {checks} (the workflow in
`.github/workflows/classroom.yml`): open the **Actions** tab, then the latest run, to see each exercise's table
and what to fix. The score GitHub Classroom records adds up your points item by item, partial credit included.
Work and check locally with `grade` as above; the workflow runs the same grader. Do not edit the workflow:
your instructor grades the repository you hand in with the kit, not with the score this workflow reports.
"""


def runner_id(module: catalogue.ModuleInfo) -> str:
    """The step id of a module (``ex02``): letters and digits only, as the reporter's ``runners`` needs."""
    return module.number


def module_selectors(selection: catalogue.Selection, module: catalogue.ModuleInfo) -> list[str]:
    """What the module's step grades: ``["ex05"]``, or its selected items ``["ex05.fit_curve", ...]``."""
    items = selection.items.get(module.name)
    if items is None:
        return [module.number]
    return [f"{module.number}.{item.name}" for item in module.items if item.name in items]


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text)


def workflow_yaml(selection: catalogue.Selection, hidden_repo: str | None = None) -> str:
    """The text of ``classroom.yml`` for the selection: one grading step per module, then the reporter."""
    where = (f"with the full hidden suites from {hidden_repo}" if hidden_repo
             else "with the public checks shipped in this repository")
    lines = [
        "# Written by `grade classroom`: grades every push " + where + ".",
        "# GitHub Classroom records the points the reporter adds up (partial credit per item included).",
        "name: Autograding Tests",
        "\"on\":",
        "  - push",
        "  - workflow_dispatch",
        "  - repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:  # GitHub Classroom looks for this job name",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    timeout-minutes: " + str(15 + STEP_MINUTES * len(selection.modules)),
        "    steps:",
        "      - name: Check out the submission",
        "        uses: actions/checkout@v4",
    ]
    if hidden_repo:
        lines += [
            "      - name: Check out the grader with the hidden checks",
            "        uses: actions/checkout@v4",
            "        with:",
            f"          repository: {hidden_repo}",
            f"          token: ${{{{ secrets.{TOKEN_SECRET} }}}}",
            f"          path: {HIDDEN_KIT_DIR}",
        ]
    kit = f"./{HIDDEN_KIT_DIR}" if hidden_repo else "."
    lines += [
        "      - name: Set up Python",
        "        uses: actions/setup-python@v5",
        "        with:",
        "          python-version: \"3.11\"",
        "          cache: pip",
        "      - name: Install bubblewrap and the grader (CPU-only PyTorch)",
        "        run: |",
        "          sudo apt-get update -qq && sudo apt-get install -y -qq bubblewrap",
        "          sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 || true",
        f"          {CPU_TORCH}",
        f"          python -m pip install -e {kit}",
    ]
    for module in selection.modules:
        command = "python -m grader.classroom " + " ".join(module_selectors(selection, module))
        lines += [
            f"      - name: {_quoted(f'{module.name} ({selection.points(module)} points)')}",
            f"        id: {runner_id(module)}",
            f"        timeout-minutes: {STEP_MINUTES}",
        ]
        if hidden_repo:
            lines += [f"        working-directory: {HIDDEN_KIT_DIR}",
                      f"        run: {command} --submission ../exercises"]
        else:
            lines += [f"        run: {command}"]
    lines += [
        "      - name: Autograding Reporter",
        f"        uses: {REPORTER}",
        "        env:",
        *(f"          {runner_id(m).upper()}_RESULTS: \"${{{{ steps.{runner_id(m)}.outputs.result }}}}\""
          for m in selection.modules),
        "        with:",
        "          runners: " + ",".join(runner_id(m) for m in selection.modules),
    ]
    return "\n".join(lines) + "\n"


def build_template(out: Path, selectors: list[str] | tuple[str, ...], hidden_repo: str | None = None,
                   force: bool = False, assignment: assignments.Assignment | None = None,
                   ) -> tuple[catalogue.Selection, list[str]]:
    """Write the handout of the selection and its workflow into ``out``; the selection and notes. The handout
    grades and totals the selected items only, as the workflow does; it records ``assignment`` when given.

    Raises:
        catalogue.UsageError: an unknown selector, a malformed ``hidden_repo``, or what ``build_handout`` refuses.
    """
    from grader import release

    if hidden_repo is not None and not REPOSITORY.match(hidden_repo):
        raise catalogue.UsageError(f"--hidden-repo {hidden_repo!r}: name a GitHub repository as OWNER/NAME, "
                                   "e.g. my-course/pytorch-kit-private")
    selection = catalogue.select(list(selectors), catalogue.load_catalogue())
    notes = release.build_handout(out, force, selection=selection, assignment=assignment)
    workflow = out / WORKFLOW_PATH
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(workflow_yaml(selection, hidden_repo), encoding="utf-8")
    with open(out / "README.md", "a", encoding="utf-8") as readme:
        readme.write(STUDENT_SECTION.format(checks="the hidden checks" if hidden_repo else "the public checks"))
    return selection, notes


def results_document(report: object, max_score: float) -> dict:
    """The JSON GitHub Classroom's graders write, for one module: one test per item, scored partially."""
    tests = []
    for exercise in report.exercises:  # type: ignore[attr-defined]
        number = exercise.name.split("_", 1)[0]
        for item in exercise.items:
            lines = [f"{item.status.replace('_', ' ')}: {item.score:g}/{item.max_score:g} points", *item.feedback]
            if exercise.error:
                lines.append(exercise.error)
            tests.append({
                "name": f"{number}.{item.name}",
                "status": "pass" if item.status == "passed" else "fail",
                "score": item.score,
                "message": "\n".join(lines),
                "test_code": f"grade check {number}.{item.name}",
                "filename": f"exercises/{exercise.name}.py",
                "line_no": 0,
            })
    passed = all(test["status"] == "pass" for test in tests) and bool(tests)
    return {"version": 1, "status": "pass" if passed else "fail", "max_score": max_score, "tests": tests}


def error_document(message: str, max_score: float, name: str) -> dict:
    """A result for a step whose grading could not run: zero points and the reason, so the reporter still adds up."""
    return {"version": 1, "status": "error", "max_score": max_score,
            "tests": [{"name": name, "status": "error", "score": 0, "message": message, "test_code": "",
                       "filename": "", "line_no": 0}]}


def write_step_output(document: dict, github_output: str) -> None:
    """Append ``result=<base64 JSON>`` to the step's output file (``$GITHUB_OUTPUT``)."""
    encoded = base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii")
    with open(github_output, "a", encoding="utf-8") as output:
        output.write(f"result={encoded}\n")


def step_selection(selectors: list[str]) -> tuple[catalogue.Selection, catalogue.ModuleInfo, float]:
    """The selection of one step, its module and its points.

    Raises:
        catalogue.UsageError: an unknown selector, or selectors from more than one module.
    """
    selection = catalogue.select(selectors, catalogue.load_catalogue())
    if len(selection.modules) != 1:
        raise catalogue.UsageError("a Classroom step grades one exercise module: name it (ex02) or items of it "
                                   "(ex05.fit_curve ex05.predict)")
    module = selection.modules[0]
    return selection, module, float(selection.points(module))


def grade_step(selection: catalogue.Selection, max_score: float, submission: Path,
               device: str = "cpu") -> tuple[dict, str]:
    """Grade one step's selection of ``submission``: the Classroom document and the terminal table.

    Whatever goes wrong, a document is returned: zero points and the reason, so the reporter still adds up.
    """
    from grader import engine, report

    name = selection.modules[0].number
    if not submission.is_dir():
        message = (f"{submission}: no such folder. Keep your exercise modules in exercises/ as the template "
                   "has them, then push again.")
        return error_document(message, max_score, name), message
    try:
        graded = engine.grade(submission, selection, engine.pick_device(device))
    except Exception as error:  # the grader itself failed: report zero with the reason, never a silent step
        message = (f"The grader failed ({type(error).__name__}: {error}). Please tell your instructor; your "
                   "work is not lost: push again to regrade.")
        return error_document(message, max_score, name), message
    return results_document(graded, max_score), report.render_terminal(graded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.classroom",
                                     description="Grade one exercise module for GitHub Classroom: print the "
                                                 "table and write the step's `result` output to $GITHUB_OUTPUT.")
    parser.add_argument("selectors", nargs="+", metavar="EXERCISE", help="ex02, or items of one module: ex05.fit_curve")
    parser.add_argument("--submission", type=Path, default=Path("exercises"),
                        help="folder of the student's exercise modules (default: exercises)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="cpu")
    options = parser.parse_args(argv)
    try:
        selection, _, max_score = step_selection(options.selectors)
    except catalogue.UsageError as error:  # the workflow names what this grader does not have: the instructor's fix
        print(f"python -m grader.classroom: {error}. The workflow and the grader disagree: write the template "
              "again with `grade classroom`.", file=sys.stderr)
        return 2
    document, table = grade_step(selection, max_score, options.submission, options.device)
    print(table)
    scored = sum(test["score"] for test in document["tests"])
    print(f"\nClassroom points for this step: {scored:g}/{document['max_score']:g}")
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:
        write_step_output(document, github_output)
    else:
        print("(GITHUB_OUTPUT is not set, so this is not a GitHub Actions step: no result output was written.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
