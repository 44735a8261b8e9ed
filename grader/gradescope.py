"""``grade gradescope OUT.zip``: an autograder bundle in Gradescope's layout, and its run step.

Gradescope unpacks the bundle into ``/autograder/source``, runs ``setup.sh`` once to build the
image, then for every submission runs ``/autograder/run_autograder``, which must leave
``/autograder/results/results.json``. Ours runs ``python3 -m grader.gradescope run``: it copies the
submission's exercise modules (top level, ``exercises/`` or one folder deeper), grades them with
the hidden checks (GPU if the container has one) and writes one test per item. Whatever happens,
a results file is written, so a crashing submission still gets a score and a message.
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

from grader import catalogue

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
exec python3 -m grader.gradescope run --root "$ROOT"{extra}
"""

KIT_PARTS = ("grader", "solutions", "tests/hidden", "pyproject.toml", "README.md")


def build_bundle(out_zip: Path, force: bool = False, allow_unsandboxed: bool = False) -> list[str]:
    """Write the autograder zip: setup.sh and run_autograder at the top, the kit under kit/; notes on stubs
    that differed from the pristine ones in the kit's ``exercises/`` (the bundle has the pristine ones).

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
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_zip.with_suffix(".zip.partial")
    notes: list[str] = []
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
        run_step = RUN_AUTOGRADER.replace("{extra}", " --allow-unsandboxed" if allow_unsandboxed else "")
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


def results_document(report: object, elapsed: float) -> dict:
    """Gradescope's results.json for a grading report: one test per item."""
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
                "visibility": "visible",
            })
    errors = [f"{e.name}: {e.error}" for e in report.exercises if e.error]  # type: ignore[attr-defined]
    summary = (f"Score {report.score:g} / {report.max_score:g} on {report.device} "  # type: ignore[attr-defined]
               f"(isolation: {report.isolation}).")  # type: ignore[attr-defined]
    return {
        "score": report.score,  # type: ignore[attr-defined]
        "execution_time": round(elapsed, 1),
        "output": "\n".join([summary, *errors]),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def failure_document(message: str) -> dict:
    return {"score": 0.0, "output": message, "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


def run(root: Path, allow_unsandboxed: bool = False) -> dict:
    """Grade ``root/submission`` into ``root/results/results.json``; the document written."""
    from grader import engine, submissions

    started = time.monotonic()
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        prepared = submissions.prepare(submissions.Submission("submission", root / "submission"), work / "copy")
        if not prepared.modules:
            document = failure_document("No exercise modules (ex01_tensors.py, ...) were found in your submission: "
                                        "upload the files of your exercises/ folder.")
        else:
            selection = catalogue.select([], catalogue.load_catalogue())
            report = engine.grade(prepared.folder, selection, engine.pick_device("auto"),
                                  allow_reduced=allow_unsandboxed)
            document = results_document(report, time.monotonic() - started)
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
    options = parser.parse_args(argv)
    document = run(options.root, options.allow_unsandboxed)
    print(document["output"], file=sys.stderr)


if __name__ == "__main__":
    main()
