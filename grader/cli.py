"""The ``grade`` command: parses arguments and calls the library; nothing else lives here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import grader
from grader import catalogue
from grader import update as update_module

DEVICE_CHOICE = click.Choice(["auto", "cpu", "cuda", "mps"])
ASSIGNMENT_OPTION = click.option(
    "--assignment", metavar="NAME",
    help="Grade the assignment NAME of assignments.toml (at the kit's root, or $GRADE_ASSIGNMENTS) instead of "
         "EXERCISE selectors.")


def _in_handout() -> bool:
    """True in a student handout (no hidden suites): the instructor's commands stay out of `grade --help` there."""
    try:
        return not catalogue.has_hidden_suites()
    except catalogue.UsageError:  # hidden parts present but unreadable: a full kit
        return False


IN_HANDOUT = _in_handout()


def find_exercises_dir(start: Path) -> Path:
    """``./exercises`` from the current folder or one of its parents, or the current folder itself."""
    for folder in (start, *start.parents):
        if (folder / "exercises").is_dir():
            return folder / "exercises"
    if any(start.glob("ex[0-9][0-9]_*.py")):
        return start
    raise click.UsageError(
        "no exercises/ folder here or above: cd into the kit (the folder holding exercises/), "
        "or name a folder with `grade check --submission PATH`.")


def _usage(error: catalogue.UsageError) -> click.UsageError:
    return click.UsageError(str(error))


def _selection_and_device(exercises: tuple[str, ...], device: str,
                          assignment: str | None = None) -> tuple[catalogue.Selection, object]:
    """The modules and items to grade (``exercises`` or ``--assignment``) and the torch device, or a usage error
    naming the fix."""
    selection, _ = _assignment_selection(exercises, assignment)
    return selection, _device(device)


def _device(device: str) -> object:
    """The torch device of a ``--device`` choice, or a usage error naming the fix (imports torch)."""
    from grader import engine  # imports torch: only for commands that grade

    try:
        return engine.pick_device(device)
    except catalogue.UsageError as error:
        raise _usage(error) from None


def _assignment_selection(exercises: tuple[str, ...], assignment: str | None) -> tuple[catalogue.Selection, object]:
    """The selection of ``exercises`` or of ``--assignment NAME``, and that assignment (None without one)."""
    from grader import assignments

    try:
        return assignments.selection(exercises, assignment, _catalogue())
    except catalogue.UsageError as error:
        raise _usage(error) from None


def _find_item(item: str) -> tuple[catalogue.ModuleInfo, catalogue.ItemInfo]:
    try:
        return catalogue.find_item(item, _catalogue())
    except catalogue.UsageError as error:
        raise _usage(error) from None


def _selection_and_folder(exercises: tuple[str, ...], assignment: str | None,
                          submission: Path | None) -> tuple[catalogue.Selection, Path]:
    """What ``check`` and ``watch`` grade, in which folder (default: ./exercises), or a usage error; found
    without importing torch, so that a mistyped command says so at once and starts nothing."""
    selection, _ = _assignment_selection(exercises, assignment)
    folder = submission if submission is not None else find_exercises_dir(Path.cwd())
    if not folder.is_dir():
        raise click.UsageError(f"--submission {folder}: no such folder; name a folder of exercise modules")
    return selection, folder


def _start_zygote_early(selection: catalogue.Selection, device: str) -> None:
    """Start the sandboxed zygote, which imports torch while this process imports its own; it leaves out
    torchvision and the optimizers' imports when the selected modules use neither."""
    from grader import zygote_client

    light = not zygote_client.needs_heavy_imports([module.name for module in selection.modules])
    zygote_client.start_early(zygote_client.cuda_likely(device), light=light)


def run_check(exercises: tuple[str, ...], submission: Path | None, device: str, as_json: bool,
              fail_under: float | None, assignment: str | None = None, show_output: bool = False) -> None:
    from grader import zygote_client

    selection, folder = _selection_and_folder(exercises, assignment, submission)
    _start_zygote_early(selection, device)
    from grader import engine, progress, report, sandbox  # imports torch: only when grading

    try:
        chosen_device = _device(device)
        result = engine.grade(folder, selection, chosen_device, store=_reference_store(), show_output=show_output)
    except (engine.GraderUnavailable, sandbox.IsolationUnavailable) as error:
        raise click.ClickException(str(error)) from None
    finally:
        zygote_client.discard_early()  # a usage error stopped the command before the grader took it
    if result.isolation == "reduced" and sandbox.forced_tier() is None:
        click.echo(sandbox.reduced_isolation_warning(), err=True)
    if submission is None:
        progress.record(result)
    if as_json:
        click.echo(result.to_json())
    else:
        click.echo(report.render_terminal(result))
    if fail_under is not None and result.score < fail_under:
        sys.exit(1)


def _reference_store() -> object:
    """The on-disk store of reference results for the student's loop (None when GRADE_CACHE_DIR=off)."""
    from grader import reference_store

    folder = reference_store.default_folder()
    return reference_store.ReferenceStore(folder) if folder is not None else None


def _catalogue() -> list[catalogue.ModuleInfo]:
    try:
        return catalogue.load_catalogue()
    except catalogue.UsageError as error:
        raise click.ClickException(str(error)) from None


@click.group(invoke_without_command=True)
@click.version_option(grader.__version__, "--version", prog_name="grade",
                      message=update_module.version_message().replace("%", "%%"))
@click.pass_context
def main(context: click.Context) -> None:
    """Grade your PyTorch exercises: `grade` alone grades ./exercises."""
    from grader.portable import refuse_unsupported_platform  # Windows: one line naming WSL 2, exit status 2

    refuse_unsupported_platform()
    if context.invoked_subcommand is None:
        run_check((), None, "auto", False, None)


@main.command()
@click.argument("exercises", nargs=-1)
@click.option("--submission", type=click.Path(path_type=Path), help="Folder of exercise modules to grade.")
@click.option("--device", type=DEVICE_CHOICE, default="auto", show_default=True, help="Where inputs live.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema in README).")
@click.option("--fail-under", type=float, help="Exit with status 1 when the score is below this.")
@click.option("--show-output", is_flag=True, help="Also show what your code printed during each check.")
@ASSIGNMENT_OPTION
def check(exercises: tuple[str, ...], submission: Path | None, device: str, as_json: bool,
          fail_under: float | None, show_output: bool, assignment: str | None) -> None:
    """Grade EXERCISES (ex02, ex02_gradient_descent, ex02.grad_fn; default: all)."""
    run_check(exercises, submission, device, as_json, fail_under, assignment, show_output)


@main.command()
@click.argument("item")
@click.option("--submission", type=click.Path(path_type=Path), help="Folder of exercise modules (default: ./exercises).")
@click.option("--device", type=DEVICE_CHOICE, default="auto", show_default=True, help="Where inputs live.")
def repro(item: str, submission: Path | None, device: str) -> None:
    """Write a script that reruns ITEM's first failing check on your code, e.g. for a debugger."""
    from grader import engine, sandbox
    from grader import repro as repro_module

    module, info = _find_item(item)
    _, chosen_device = _selection_and_device((f"{module.number}.{info.name}",), device)
    folder = submission if submission is not None else find_exercises_dir(Path.cwd())
    if not folder.is_dir():
        raise click.UsageError(f"--submission {folder}: no such folder; name a folder of exercise modules")
    try:
        written = repro_module.write_repro(folder, module, info, chosen_device, store=_reference_store())
    except (engine.GraderUnavailable, sandbox.IsolationUnavailable) as error:
        raise click.ClickException(str(error)) from None
    click.echo(written.message)


@main.command()
@click.argument("item")
@click.option("--more", is_flag=True, help="Show the next step of the hint as well.")
def hint(item: str, more: bool) -> None:
    """Print the hint of ITEM (for example ex02.grad_fn) in steps: a nudge first, then --more."""
    from grader import hints, progress

    module, info = _find_item(item)
    name = f"{module.number}.{info.name}"
    total = max(len(hints.steps_of(info.hint)), 1)
    seen = max(progress.load_hint_steps().get(name, 1), 1)
    shown = min(seen + 1, total) if more else min(seen, total)
    if shown > seen:
        progress.record_hint_steps(name, shown)
    click.echo(hints.render(name, info.points, info.hint, shown))
    if more and seen >= total:
        click.echo("\nThat was the last step. Compare your code with it line by line, then run "
                   f"`grade check {name}` and read what it says you returned.")


@main.command(name="list")
def list_items() -> None:
    """The exercises, their items and points, and your progress from the last `grade` run."""
    from grader import assignments, progress

    modules = _catalogue()
    state = progress.load()
    record = assignments.load_handout_record()
    if record is not None and record.get("name"):
        click.echo(assignments.describe(record) + "\n")
    for module in modules:
        done = sum(item.points for item in module.items if state.get(f"{module.name}.{item.name}") == "passed")
        click.echo(f"{module.name}  ({done}/{module.max_score} points passed)")
        for item in module.items:
            status = state.get(f"{module.name}.{item.name}", "not graded yet")
            click.echo(f"  {item.name:<28} {item.points} pt  {status}")
    click.echo("\nRun `grade check ex01` to grade one exercise, `grade hint ex01.ITEM` for a hint.")


@main.command(hidden=IN_HANDOUT)
@click.argument("submissions_dir", metavar="SUBMISSIONS", type=click.Path(path_type=Path))
@click.argument("exercises", nargs=-1)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for grades.csv and reports.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel graders [default: cores].")
@click.option("--device", type=DEVICE_CHOICE, default="auto", show_default=True)
@click.option("--resume", is_flag=True, help="Continue the gradebook in OUT: skip submissions already reported.")
@click.option("--force", is_flag=True, help="Replace the gradebook already in OUT (its grades.csv, reports...).")
@click.option("--memory-limit", type=click.FloatRange(min=0.25), default=4.0, show_default=True,
              help="GiB of resident memory a worker may use before it is stopped.")
@click.option("--allow-unsandboxed", is_flag=True,
              help="Grade even where only reduced isolation works (students' code then runs as you).")
@ASSIGNMENT_OPTION
def batch(submissions_dir: Path, exercises: tuple[str, ...], out: Path, jobs: int | None, device: str,
          resume: bool, force: bool, memory_limit: float, allow_unsandboxed: bool, assignment: str | None) -> None:
    """Grade every submission (a folder or .zip each, or an unpacked Canvas or Moodle download) in SUBMISSIONS."""
    from grader import batch as batch_module
    from grader import engine, gradebook, sandbox

    if not submissions_dir.is_dir():
        raise click.UsageError(f"SUBMISSIONS {submissions_dir}: no such folder; name the folder holding one "
                               "folder or .zip per student")
    if out.exists() and not out.is_dir():
        raise click.UsageError(f"--out {out} is a file; name a folder (it is created if missing)")
    if out.resolve() == submissions_dir.resolve() or out.resolve().is_relative_to(submissions_dir.resolve()):
        raise click.UsageError("--out must not be inside SUBMISSIONS (it would be graded as a submission)")
    selection, chosen_device = _selection_and_device(exercises, device, assignment)
    run = batch_module.Batch(submissions_dir, out, selection, chosen_device,
                             jobs or batch_module.default_jobs(), resume, memory_limit=int(memory_limit * 2**30),
                             allow_unsandboxed=allow_unsandboxed, force=force)
    try:
        data = run.run()
    except catalogue.UsageError as error:
        raise _usage(error) from None
    except KeyboardInterrupt:
        click.echo(f"\nInterrupted: {len(run.rows)} submissions are saved in {out}. Run the same command with "
                   "--resume to finish without regrading them.", err=True)
        sys.exit(130)
    except (engine.GraderUnavailable, sandbox.IsolationUnavailable) as error:
        raise click.ClickException(str(error)) from None
    if run.isolation == "reduced":
        click.echo(sandbox.reduced_isolation_warning(), err=True)
    click.echo(gradebook.summary_text(data))
    if run.ignored:
        click.echo(gradebook.ignored_text(run.ignored, out / "ignored.csv"))
    click.echo(f"Gradebook: {out / 'grades.csv'} (provenance: {out / 'gradebook.json'}); reports: {out / 'reports'}; "
               f"feedback: {out / 'feedback'}")
    click.echo(f"Class report: {out / 'report.html'} (open it in a browser); similar code, for you to review: "
               f"{out / 'similarity.csv'}")


@main.command(name="export", hidden=IN_HANDOUT)
@click.argument("kind", type=click.Choice(["canvas", "moodle", "csv"]))
@click.option("--gradebook", "gradebook_dir", type=click.Path(path_type=Path), required=True,
              help="The --out folder of `grade batch` (its grades.csv).")
@click.option("--template", type=click.Path(path_type=Path),
              help="The LMS's own export: Canvas Grades CSV, Moodle grading worksheet; for csv an optional roster.")
@click.option("--column", help="Canvas: the assignment column to fill (its title or id) when there are several.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File to write [default: GRADEBOOK/KIND-import.csv].")
def export_grades(kind: str, gradebook_dir: Path, template: Path | None, column: str | None,
                  output: Path | None) -> None:
    """Write the scores of a `grade batch` gradebook into the LMS's gradebook file, ready to import (or a plain csv)."""
    from grader import export, gradebook

    destination = output if output is not None else gradebook_dir / f"{kind}-import.csv"
    if template is not None and destination.resolve() == template.resolve():
        raise click.UsageError("-o names the template itself: write the import file next to it instead")
    try:
        result = export.export(kind, gradebook_dir, template, column)
        gradebook.write_atomically(destination, result.text)
    except export.ExportError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"{destination} cannot be written ({error.strerror or error}); name another "
                                   "file with -o") from None
    for line in export.report_lines(result, destination):
        click.echo(line)


@main.command(hidden=IN_HANDOUT)
@click.argument("out", type=click.Path(path_type=Path))
@click.argument("exercises", nargs=-1)
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty OUT.")
@click.option("--hint-steps", type=click.IntRange(min=1), help="Ship only the first N steps of each hint.")
@ASSIGNMENT_OPTION
def release(out: Path, exercises: tuple[str, ...], force: bool, hint_steps: int | None,
            assignment: str | None) -> None:
    """Write a student handout (stubs, grader, public checks; no answers) of EXERCISES (default: all) into OUT."""
    from grader import engine
    from grader import release as release_module

    selection, chosen = _assignment_selection(exercises, assignment)
    try:
        notes = release_module.build_handout(out, force, hint_steps=hint_steps, selection=selection,
                                             assignment=chosen)
    except catalogue.UsageError as error:
        raise _usage(error) from None
    except engine.KitError as error:
        raise click.ClickException(str(error)) from None
    points = sum(selection.points(module) for module in selection.modules)
    click.echo(f"Wrote a student handout to {out}: {len(selection.modules)} exercise modules, {points} points.")
    for note in notes:
        click.echo(f"Note: {note}")
    click.echo(f"Check it: cd {out} && pip install -e . && grade")


@main.command(hidden=IN_HANDOUT)
@click.argument("item")
def solution(item: str) -> None:
    """Show the reference solution of ITEM, once you have passed it (full kit only)."""
    from grader import progress, solutions_view

    module, info = _find_item(item)
    if not catalogue.SOLUTIONS_DIR.is_dir():
        raise click.ClickException("this handout has no reference solutions; ask your instructor after the deadline")
    if progress.load().get(f"{module.name}.{info.name}") != "passed":
        raise click.ClickException(f"{module.number}.{info.name} has not passed yet: solve it first "
                                   f"(`grade check {module.number}.{info.name}`, `grade hint {module.number}.{info.name}`)")
    click.echo(solutions_view.source_of(module.name, info.name))


@main.command()
@click.argument("target", metavar="ITEM|EXERCISE")
@click.option("--submission", type=click.Path(path_type=Path), help="Folder of exercise modules (default: ./exercises).")
def reset(target: str, submission: Path | None) -> None:
    """Put back the untouched stub of ITEM (ex02.grad_fn) or of a whole EXERCISE (ex02), keeping a backup."""
    from grader import stubs

    modules = _catalogue()
    module_part, _, item_part = target.partition(".")
    try:
        module, item = catalogue.find_item(target, modules) if item_part else (
            catalogue.select([module_part], modules).modules[0], None)
    except catalogue.UsageError as error:
        raise _usage(error) from None
    folder = submission if submission is not None else find_exercises_dir(Path.cwd())
    if not folder.is_dir():
        raise click.UsageError(f"--submission {folder}: no such folder; name a folder of exercise modules")
    try:
        backup, path = stubs.reset(folder, module, item.name if item else None)
    except catalogue.UsageError as error:
        raise click.ClickException(str(error)) from None
    what = f"{module.number}.{item.name}" if item else f"every item of {module.name}"
    click.echo(f"Reset {what} to the stub in {path}.")
    if backup is not None:
        click.echo(f"Your previous file is saved as {backup}.")


@main.command()
@click.argument("new_handout", metavar="NEW_HANDOUT", type=click.Path(path_type=Path))
@click.option("--copy", "copy", type=click.Path(path_type=Path),
              help="Your copy of the handout, the folder holding exercises/ [default: the one you are in].")
@click.option("--force", is_flag=True, help="Apply NEW_HANDOUT even when it is older than your copy.")
def update(new_handout: Path, copy: Path | None, force: bool) -> None:
    """Bring the newer handout in NEW_HANDOUT into your copy, keeping the items you solved (backups first)."""
    try:
        result = update_module.update_copy(copy if copy is not None else update_module.find_copy(Path.cwd()),
                                           new_handout, force, new_arg=str(new_handout))
    except catalogue.UsageError as error:
        raise _usage(error) from None
    click.echo(update_module.render(result))


@main.command(hidden=IN_HANDOUT)
@click.argument("out_zip", metavar="OUT.zip", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing OUT.zip.")
@click.option("--allow-unsandboxed", is_flag=True,
              help="Let the bundle grade even where only reduced isolation works (not needed on Gradescope).")
@click.argument("exercises", nargs=-1)
@ASSIGNMENT_OPTION
@click.option("--visibility", type=click.Choice(["visible", "after_due_date", "after_published", "hidden"]),
              help="When students see each test's result on Gradescope [default: the assignment's, else visible].")
def gradescope(out_zip: Path, force: bool, allow_unsandboxed: bool, exercises: tuple[str, ...],
               assignment: str | None, visibility: str | None) -> None:
    """Write a Gradescope autograder bundle (setup.sh, run_autograder, the kit) grading EXERCISES (default: all)."""
    from grader import assignments
    from grader import gradescope as gradescope_module

    selection, chosen = _assignment_selection(exercises, assignment)
    shown = visibility or (chosen.visibility if chosen else None) or "visible"
    selectors = assignments.selectors_of(selection) if exercises or chosen else []
    try:
        notes = gradescope_module.build_bundle(out_zip, force, allow_unsandboxed=allow_unsandboxed,
                                               selectors=selectors, visibility=shown)
    except catalogue.UsageError as error:
        raise _usage(error) from None
    click.echo(f"Wrote {out_zip}: upload it as the assignment's autograder on Gradescope "
               "(Ubuntu base image; it installs the kit and bubblewrap in setup.sh). It grades "
               f"{assignments.total_points(selection)} points; test visibility: {shown}.")
    for note in notes:
        click.echo(f"Note: {note}")


@main.command(hidden=IN_HANDOUT)
@click.argument("out", type=click.Path(path_type=Path))
@click.argument("exercises", nargs=-1)
@click.option("--hidden-repo", metavar="OWNER/NAME",
              help="Grade with the full hidden suites of this private repository (your kit), checked out with the "
                   "GRADER_KIT_TOKEN secret, instead of the public checks.")
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty OUT.")
@ASSIGNMENT_OPTION
def classroom(out: Path, exercises: tuple[str, ...], hidden_repo: str | None, force: bool,
              assignment: str | None) -> None:
    """Write a GitHub Classroom template into OUT: the handout of EXERCISES (default: all) and its workflow."""
    from grader import assignments, engine
    from grader import classroom as classroom_module

    try:
        selectors, chosen = assignments.resolve(exercises, assignment, _catalogue())
        selection, notes = classroom_module.build_template(out, selectors, hidden_repo, force, chosen)
    except catalogue.UsageError as error:
        raise _usage(error) from None
    except engine.KitError as error:
        raise click.ClickException(str(error)) from None
    points = sum(selection.points(module) for module in selection.modules)
    click.echo(f"Wrote a GitHub Classroom template to {out}: {len(selection.modules)} grading steps worth "
               f"{points} points in {out / classroom_module.WORKFLOW_PATH}.")
    for note in notes:
        click.echo(f"Note: {note}")
    if hidden_repo:
        click.echo(f"Add a read-only token for {hidden_repo} as the secret {classroom_module.TOKEN_SECRET} of your "
                   "Classroom organization (README: GitHub Classroom).")
    click.echo(f"Next: cd {out} && git init && git add . && git commit -m 'Assignment template', push it to GitHub, "
               "mark it a template repository and choose it as the assignment's starter code.")


@main.command()
@click.argument("exercise")
@click.option("--out", type=click.Path(path_type=Path), help="Notebook file or folder [default: ./exNN_topic.ipynb].")
@click.option("--force", is_flag=True, help="Replace an existing notebook (the work in it is lost).")
def notebook(exercise: str, out: Path | None, force: bool) -> None:
    """Write EXERCISE (ex02) as a Jupyter/Colab notebook whose last cell grades the cells you ran."""
    from grader import notebook_writer

    try:
        path = notebook_writer.write_notebook(exercise, out, force)
    except catalogue.UsageError as error:
        raise _usage(error) from None
    click.echo(f"Wrote {path}: open it in Jupyter or upload it to Colab, fill in the functions, and run its last "
               "cell to grade them.")


@main.command()
@click.argument("exercises", nargs=-1)
@click.option("--submission", type=click.Path(path_type=Path), help="Folder of exercise modules to watch.")
@click.option("--device", type=DEVICE_CHOICE, default="auto", show_default=True)
@ASSIGNMENT_OPTION
def watch(exercises: tuple[str, ...], submission: Path | None, device: str, assignment: str | None) -> None:
    """Regrade EXERCISES (default: all) each time you save one of their files."""
    import threading

    from grader import zygote_client

    selection, folder = _selection_and_folder(exercises, assignment, submission)
    _start_zygote_early(selection, device)
    from grader import engine
    from grader import watch as watch_module

    try:
        chosen_device = _device(device)
    except BaseException:
        zygote_client.discard_early()  # the grader never started: nothing later may adopt this zygote
        raise
    click.echo("Starting the grader (importing torch once)...")
    stop = threading.Event()
    try:
        with engine.GradingService(chosen_device, store=_reference_store()) as service:
            watcher = watch_module.Watcher(folder, selection.modules, service, click.echo,
                                           record_progress=submission is None)
            if exercises or assignment:
                for module in selection.modules:
                    watcher.grade(module)
            else:
                click.echo(f"Watching {folder} for changes (Ctrl-C to stop): save an exercise file to grade it.")
            watcher.run(stop)
    except KeyboardInterrupt:
        stop.set()
        click.echo("\nStopped watching.")


def _stop_like_ctrl_c(_signal: int, _frame: object) -> None:
    """SIGTERM (an editor stopping its task, ``kill``) stops ``grade`` as Ctrl-C does: what it opened is
    closed and removed (``grade watch`` left its temporary folder behind), a batch stops at a row's edge."""
    raise KeyboardInterrupt


def run() -> None:
    """The ``grade`` executable: :func:`main`, then a quick exit.

    A process that imported torch spends 0.3 s or more in the interpreter's own shutdown (freeing
    torch's modules one by one) after everything is printed and written. So the exit handlers run
    and the output is flushed here, and the process then ends at once. SIGTERM counts as Ctrl-C.
    """
    import atexit
    import os
    import signal

    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    try:
        main()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if code is not None and not isinstance(code, int):  # sys.exit("message"): print it, status 1
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code or 0)


if __name__ == "__main__":
    run()
