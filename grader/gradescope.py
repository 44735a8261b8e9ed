"""``grade gradescope OUT.zip``: an autograder bundle in Gradescope's layout, and its run step.

Gradescope unpacks the bundle into ``/autograder/source``, runs ``setup.sh`` once to build the
image, then for every submission runs ``/autograder/run_autograder``, which must leave
``/autograder/results/results.json``. Ours runs ``python3 -m grader.gradescope run``: it copies the
submission's exercise modules (top level, ``exercises/`` or one folder deeper; a notebook
``exNN_topic.ipynb`` counts as the module its code cells define), grades them with
the hidden checks (GPU if the container has one) and writes one test per item. Whatever happens,
a results file is written, so a crashing submission still gets a score and a message.

A bundle of a selection (``grade gradescope OUT.zip ex04 ex05.fit_curve`` or ``--assignment NAME``) records it
as the run step's arguments: it grades only those items, and its tests' maximums add up to their points.
``--visibility`` sets Gradescope's visibility of the whole result and of each test (Gradescope's values:
``visible``, ``after_due_date``, ``after_published``, ``hidden``;
https://gradescope-autograders.readthedocs.io/en/latest/specs/#controlling-test-case-visibility).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from grader import assignments, catalogue

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once to build the autograder image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv bubblewrap
python3 -m pip install --break-system-packages -e /autograder/source/kit 2>/dev/null \\
  || python3 -m pip install -e /autograder/source/kit
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission; AUTOGRADER_ROOT lets the kit's tests use another root.
# The container runs it as root: student code then runs as an unprivileged uid with no capabilities
# (bubblewrap's namespaces are used instead where the container allows them).
ROOT="${AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT/source/kit" || exit 1
exec python3 -m grader.gradescope run --root "$ROOT"{extra}{selection}
"""

KIT_PARTS = ("grader", "solutions", "tests/hidden", "pyproject.toml", "README.md")


def build_bundle(out_zip: Path, force: bool = False, allow_unsandboxed: bool = False,
                 selectors: list[str] | tuple[str, ...] = (), visibility: str = "visible") -> list[str]:
    """Write the autograder zip: setup.sh and run_autograder at the top, the kit under kit/; notes on stubs
    that differed from the pristine ones in the kit's ``exercises/`` (the bundle has the pristine ones).

    ``selectors`` (default: every exercise) is what the bundle grades; ``visibility`` is Gradescope's
    visibility of its result and tests. Both are written into run_autograder as arguments.

    ``allow_unsandboxed`` lets the bundle grade where only reduced isolation works (a machine where
    it runs neither as root nor with user namespaces); Gradescope's containers never need it.
    """
    from grader import release, stubs

    if not catalogue.has_hidden_suites():
        raise catalogue.UsageError("a Gradescope bundle needs the full kit (solutions/ and tests/hidden/)")
    if out_zip.suffix.lower() != ".zip":
        raise catalogue.UsageError(f"{out_zip}: name the bundle with a .zip ending, e.g. autograder.zip")
    if out_zip.exists() and not force:
        raise catalogue.UsageError(f"{out_zip} exists: choose another name or pass --force to replace it")
    if visibility not in assignments.VISIBILITIES:
        raise catalogue.UsageError(f"--visibility {visibility}: choose one of {', '.join(assignments.VISIBILITIES)}")
    selection = catalogue.select(list(selectors), catalogue.load_catalogue())
    arguments = f" --visibility {visibility}" if visibility != "visible" else ""
    if selectors:  # canonical selectors only (ex04, ex05.fit_curve): names from the catalogue, safe in a shell line
        arguments += " " + " ".join(assignments.selectors_of(selection))
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_zip.with_suffix(".zip.partial")
    notes: list[str] = []
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
        run_step = RUN_AUTOGRADER.replace("{extra}", " --allow-unsandboxed" if allow_unsandboxed else "").replace(
            "{selection}", arguments)
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", run_step)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            bundle.writestr(info, text)
        for part in KIT_PARTS:
            source = catalogue.KIT_ROOT / part
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for path in files:
                if "__pycache__" in path.parts or path.suffix == ".pyc" or path.name == "catalogue.json":
                    continue
                bundle.write(path, f"kit/{path.relative_to(catalogue.KIT_ROOT).as_posix()}")
        for module in catalogue.load_catalogue():  # the stubs as shipped, never an edited exercises/
            stub, note = release.shippable_stub(module, stubs.pristine_source(module.name))
            notes += [note] if note else []
            bundle.writestr(f"kit/exercises/{module.name}.py", stub)
    temporary.replace(out_zip)
    return notes


def results_document(report: object, elapsed: float, visibility: str = "visible") -> dict:
    """Gradescope's results.json for a grading report: one test per item, each with ``visibility``."""
    tests = []
    for exercise in report.exercises:  # type: ignore[attr-defined]
        for item in exercise.items:
            lines = list(item.feedback) or ["passed"]
            tests.append({
                "name": f"{exercise.name}.{item.name}",
                "score": item.score,
                "max_score": float(item.max_score),
                "status": "passed" if item.status == "passed" else "failed",
                "output": f"{item.status.replace('_', ' ')}\n" + "\n".join(lines),
                "visibility": visibility,
            })
    errors = [f"{e.name}: {e.error}" for e in report.exercises if e.error]  # type: ignore[attr-defined]
    errors += [f"Note: {problem}" for problem in report.problems]  # type: ignore[attr-defined]
    summary = (f"Score {report.score:g} / {report.max_score:g} on {report.device} "  # type: ignore[attr-defined]
               f"(isolation: {report.isolation}).")  # type: ignore[attr-defined]
    return {
        "score": report.score,  # type: ignore[attr-defined]
        "execution_time": round(elapsed, 1),
        "output": "\n".join([summary, *errors]),
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def failure_document(message: str) -> dict:
    return {"score": 0.0, "output": message, "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


def run(root: Path, allow_unsandboxed: bool = False, selectors: list[str] | tuple[str, ...] = (),
        visibility: str = "visible") -> dict:
    """Grade ``selectors`` (default: every exercise) of ``root/submission`` into ``root/results/results.json``;
    the document written. A submission that cannot be graded gets a visible message whatever ``visibility``."""
    from grader import engine, submissions

    started = time.monotonic()
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        submitted = submissions.Submission("submission", root / "submission")
        prepared = submissions.prepare(submitted, work / "copy")
        if not prepared.modules:
            holds = submissions.why_empty(submitted)
            document = failure_document("No exercise modules (ex01_tensors.py, ..., or notebooks such as "
                                        f"ex01_tensors.ipynb) were found in your submission ({holds}): upload the "
                                        "files of your exercises/ folder, or your notebooks.")
        else:
            try:
                selection = catalogue.select(list(selectors), catalogue.load_catalogue())
            except catalogue.UsageError as error:  # the bundle's run step and its kit disagree
                raise RuntimeError(f"this bundle's selection does not match its kit ({error}); write the bundle "
                                   "again with `grade gradescope`") from None
            report = engine.grade(prepared.folder, selection, engine.pick_device("auto"),
                                  allow_reduced=allow_unsandboxed)
            report.problems += prepared.notes
            document = results_document(report, time.monotonic() - started, visibility)
    except submissions.Rejected as reason:
        document = failure_document(f"Your submission could not be graded: {reason}.")
    except catalogue.UsageError as refusal:  # only reduced isolation here: the instructor must decide
        document = failure_document(f"The autograder refused to run untrusted code: {refusal} "
                                    "Please tell your instructor.")
    except Exception as error:  # the grader itself failed: say so, never leave Gradescope without results
        document = failure_document(f"The autograder failed ({type(error).__name__}: {error}). "
                                    "Please tell your instructor.")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(document, indent=2)
    temporary = results.with_suffix(".partial")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(results)
    return document


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    run_parser.add_argument("--root", type=Path, default=Path("/autograder"))
    run_parser.add_argument("--allow-unsandboxed", action="store_true",
                            help="grade even where only reduced isolation works")
    run_parser.add_argument("--visibility", choices=assignments.VISIBILITIES, default="visible",
                            help="Gradescope's visibility of the result and of each test")
    run_parser.add_argument("selectors", nargs="*", metavar="EXERCISE",
                            help="what to grade: ex04, ex05.fit_curve (default: every exercise)")
    options = parser.parse_args(argv)
    document = run(options.root, options.allow_unsandboxed, options.selectors, options.visibility)
    print(document["output"], file=sys.stderr)


if __name__ == "__main__":
    main()
