"""``grade update NEW_HANDOUT``: bring a newer handout into a student's copy without losing their work.

Each exercise module is merged three ways, item by item (:mod:`grader.merge`): the stub the copy's handout
shipped (``grader/pristine/``, the base), the student's file, and the new handout's stub. An item the student
did not change takes the new stub; one they changed keeps their body, and takes the new docstring and signature
where the course changed those. A module that does not parse is left as it was, with its old stub kept in
``grader/pristine/`` so that running the same update again, once it is fixed, merges it.

The grader (checks, public expected data, catalogue and hints), ``pyproject.toml`` and ``README.md`` are replaced
by the new handout's. Every file changed is saved in ``.grade-backups/`` first; ``.grade-progress.json`` (statuses
and hint steps) is left alone.

Every handout records what it was built from in ``grader/handout.json`` (``version``, ``built_at``,
``release_id``, ``modules``), written by ``grade release``; an update to an older handout is refused.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import grader
from grader.catalogue import UsageError
from grader.merge import ModulePlan, plan_module, same_code
from grader.stubs import BACKUP_DIR_NAME

RECORD_NAME = "handout.json"
STAGING_NAME = "grader.update-partial"


# --- which handout a folder holds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """What a handout was built from: the kit's version, when (UTC, ISO 8601) and a digest of its content."""

    version: str
    built_at: str | None = None
    release_id: str | None = None

    def describe(self) -> str:
        return f"{self.version}, built {self.built_at}" if self.built_at else f"{self.version} (no build time recorded)"


def write_record(handout: Path) -> dict[str, object]:
    """Write ``grader/handout.json`` into a handout just built in ``handout`` (the last step of ``grade release``)."""
    record = {
        "version": grader.__version__,
        "built_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "release_id": content_digest(handout),
        "modules": sorted(path.stem for path in (handout / "grader" / "pristine").glob("*.py")),
    }
    (handout / "grader" / RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def content_digest(handout: Path) -> str:
    """A digest of what a handout ships (grader, stubs, pyproject, README): equal digests, the same handout."""
    digest = hashlib.sha256()
    paths = [*(handout / "grader").rglob("*"), *(handout / "exercises").glob("*.py"),
             handout / "pyproject.toml", handout / "README.md"]
    for path in sorted(p for p in paths if p.is_file() and p.name != RECORD_NAME and "__pycache__" not in p.parts):
        digest.update(path.relative_to(handout).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def read_release(root: Path) -> Release:
    """The release of the handout (or copy of one) in ``root``: ``grader/handout.json``, else the version in its
    ``pyproject.toml`` (handouts built before the record existed)."""
    try:
        data = json.loads((root / "grader" / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("version"), str):
        built_at, release_id = data.get("built_at"), data.get("release_id")
        return Release(data["version"], built_at if isinstance(built_at, str) else None,
                       release_id if isinstance(release_id, str) else None)
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        pyproject = ""
    match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject, re.MULTILINE)
    return Release(match.group(1) if match else "unknown")


def version_message() -> str:
    """What ``grade --version`` prints: the kit's version and, in a handout, when it was built."""
    record = read_release(Path(grader.__file__).resolve().parent.parent)
    built = f" (handout built {record.built_at})" if record.built_at and record.version == grader.__version__ else ""
    return f"grade {grader.__version__}{built}"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in re.split(r"[.+-]", version))


def relation(new: Release, old: Release) -> str:
    """``"newer"``, ``"same"`` or ``"older"``: ``new`` compared with ``old``, by version, then build time. When
    neither tells (no records), ``"newer"``: only a handout known to be older is refused."""
    if new.release_id is not None and new.release_id == old.release_id:
        return "same"
    if _version_key(new.version) != _version_key(old.version):
        return "newer" if _version_key(new.version) > _version_key(old.version) else "older"
    if new.built_at and old.built_at:
        return "older" if new.built_at < old.built_at else "newer"
    return "older" if old.built_at and not new.built_at else "newer"


# --- the folders ------------------------------------------------------------------------------------------------


def _is_full_kit(folder: Path) -> bool:
    return (folder / "tests" / "hidden").is_dir() or (folder / "solutions").is_dir()


def find_copy(start: Path) -> Path:
    """The student's copy of a handout (the folder holding ``exercises/`` and ``grader/``) at ``start`` or above."""
    for folder in (start, *start.parents):
        if (folder / "exercises").is_dir() and (folder / "grader").is_dir():
            return folder
    raise UsageError("no copy of a handout here or above (a folder holding exercises/ and grader/): cd into your "
                     "copy, or name it with `grade update NEW_HANDOUT --copy PATH`")


def check_copy(copy: Path) -> Path:
    """``copy`` as the root of a student's copy (its ``exercises/`` folder names the copy too), or a UsageError."""
    if not (copy / "exercises").is_dir() and copy.name == "exercises" and (copy.parent / "grader").is_dir():
        copy = copy.parent
    if not (copy / "exercises").is_dir() or not (copy / "grader").is_dir():
        raise UsageError(f"--copy {copy}: not a copy of a handout (it needs exercises/ and grader/); name the folder "
                         "you work in, the one holding exercises/")
    if _is_full_kit(copy):
        raise UsageError(f"{copy} is the full instructor kit: `grade update` brings a new handout into a student's "
                         "copy. In the kit, edit it and run `grade release OUT` to write the next handout")
    return copy


def check_handout(new: Path) -> None:
    """Raise a UsageError naming the problem unless ``new`` is an unpacked student handout."""
    if not new.is_dir():
        raise UsageError(f"NEW_HANDOUT {new}: no such folder; unpack the new handout your instructor sent and name "
                         "its folder (the one holding exercises/ and grader/)")
    if _is_full_kit(new):
        raise UsageError(f"NEW_HANDOUT {new} is the full instructor kit, not a student handout: ask for the handout "
                         "(the instructor writes it with `grade release OUT`)")
    missing = [part for part in ("exercises", "grader/pristine", "grader/catalogue.json") if not (new / part).exists()]
    if missing:
        raise UsageError(f"NEW_HANDOUT {new} is not a student handout (no {', '.join(missing)}): name the unpacked "
                         "folder of the new handout, the one holding exercises/ and grader/pristine/")


# --- the whole update -------------------------------------------------------------------------------------------


@dataclass
class UpdateResult:
    """What ``update_copy`` did, for the report."""

    copy: Path
    old: Release
    new: Release
    relation: str
    modules: list[ModulePlan] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    handout_backup: Path | None = None
    pyproject_changed: bool = False
    up_to_date: bool = False


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _assignment_name(root: Path) -> str | None:
    """The assignment a handout grades, from its ``grader/assignment.json`` (None: the whole kit, or not recorded)."""
    try:
        data = json.loads((root / "grader" / "assignment.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def _new_stub(new: Path, name: str) -> str | None:
    """The new handout's stub of module ``name`` as a fresh student gets it: its ``exercises/`` file when that is the
    pristine stub (the same code, maybe laid out differently), else the pristine stub; None when it has neither."""
    pristine, shipped = _read(new / "grader" / "pristine" / f"{name}.py"), _read(new / "exercises" / f"{name}.py")
    if pristine is None or shipped is None:
        return pristine
    try:
        same = same_code(shipped, pristine)
    except SyntaxError:
        same = False
    return shipped if same else pristine


def _backup_path(folder: Path, name: str, stamp: str, suffix: str = ".bak") -> Path:
    """``folder/name.stamp.bak``, numbered when taken (the naming ``grade reset`` uses)."""
    path, counter = folder / f"{name}.{stamp}{suffix}", 1
    while path.exists():
        path, counter = folder / f"{name}.{stamp}-{counter}{suffix}", counter + 1
    return path


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def update_copy(copy: Path, new: Path, force: bool = False, new_arg: str | None = None) -> UpdateResult:
    """Bring the handout in ``new`` into the student's copy ``copy``; see the module docstring.

    Nothing is changed when it raises. ``new_arg`` is how the student named ``new`` (for the messages).

    Raises:
        UsageError: ``copy`` is not a copy of a handout, ``new`` is not a handout, or ``new`` is older than the copy
            and ``force`` is False.
    """
    copy = check_copy(copy)
    check_handout(new)
    new_arg = new_arg or str(new)
    if new.resolve() == copy.resolve():
        raise UsageError(f"NEW_HANDOUT {new} is your copy itself: name the folder of the new handout")
    mine, theirs = _assignment_name(copy), _assignment_name(new)
    if mine is not None and theirs is not None and mine != theirs and not force:
        raise UsageError(f"NEW_HANDOUT {new} is the handout of assignment {theirs!r} and your copy is of {mine!r}: a "
                         "different assignment, not a newer handout of yours; nothing changed. Work on it in its own "
                         "folder, or pass --force to merge it into this copy anyway")
    old_release, new_release = read_release(copy), read_release(new)
    order = relation(new_release, old_release)
    if order == "older" and not force:
        raise UsageError(f"NEW_HANDOUT {new} is handout {new_release.describe()}, older than your copy's "
                         f"{old_release.describe()}: nothing changed. Use the newest handout your instructor sent, or "
                         "pass --force to apply this one anyway")
    result = UpdateResult(copy, old_release, new_release, order)
    old_stubs, new_stubs = copy / "grader" / "pristine", new / "grader" / "pristine"
    names = sorted({p.stem for p in new_stubs.glob("*.py")} | {p.stem for p in old_stubs.glob("*.py")})
    whole = order != "same" or force
    if not whole:  # the same handout: only modules left unmerged last time (their old stub is still here)
        names = [n for n in names if (new_stubs / f"{n}.py").is_file() and _read(old_stubs / f"{n}.py") is not None
                 and _read(old_stubs / f"{n}.py") != _read(new_stubs / f"{n}.py")]
    label = new_release.describe()
    for name in names:
        mine_path = copy / "exercises" / f"{name}.py"
        try:
            mine = _read(mine_path)
        except UnicodeDecodeError:
            result.modules.append(ModulePlan(name, "left as is", keep_old_pristine=True, attention=[
                (f"exercises/{name}.py is not UTF-8 text: it is left as it was; save it as UTF-8, then run "
                 f"`grade update {new_arg}` again")]))
            continue
        result.modules.append(plan_module(name, mine, _read(old_stubs / f"{name}.py"), _new_stub(new, name), label,
                                          new_arg))
    merged = [plan for plan in result.modules if plan.text is not None]
    if not whole and not merged:
        result.up_to_date = True
        return result

    stamp = time.strftime("%Y%m%d-%H%M%S")
    backups = copy / BACKUP_DIR_NAME
    backups.mkdir(exist_ok=True)
    writes = [plan for plan in merged if plan.outcome != "unchanged"]
    for plan in writes:  # first the backups, then the changes
        mine_path = copy / "exercises" / f"{plan.name}.py"
        if mine_path.is_file():
            backup = _backup_path(backups, mine_path.name, stamp)
            shutil.copy2(mine_path, backup)
            result.backups.append(backup)
    if whole:
        result.handout_backup = _backup_path(backups, f"handout-{old_release.version}", stamp, suffix="")
        result.handout_backup.mkdir()
        for part in ("pyproject.toml", "README.md"):
            if (copy / part).is_file():
                shutil.copy2(copy / part, result.handout_backup / part)
        staging = copy / STAGING_NAME
        if staging.exists():
            shutil.rmtree(staging)
        shutil.copytree(new / "grader", staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for plan in result.modules:
            old_stub = _read(old_stubs / f"{plan.name}.py")
            if plan.keep_old_pristine and old_stub is not None and (staging / "pristine" / f"{plan.name}.py").is_file():
                (staging / "pristine" / f"{plan.name}.py").write_text(old_stub, encoding="utf-8")
        os.replace(copy / "grader", result.handout_backup / "grader")
        os.replace(staging, copy / "grader")
        result.pyproject_changed = _read(copy / "pyproject.toml") != _read(new / "pyproject.toml")
        for part in ("pyproject.toml", "README.md"):
            if (new / part).is_file():
                shutil.copy2(new / part, copy / part)
    else:  # merged now: from here on their stub is the new one
        for plan in merged:
            shutil.copy2(new_stubs / f"{plan.name}.py", old_stubs / f"{plan.name}.py")
    for plan in writes:
        _write_atomically(copy / "exercises" / f"{plan.name}.py", plan.text or "")
    return result


# --- the report -------------------------------------------------------------------------------------------------


def _names(names: list[str]) -> str:
    return ", ".join(names)


def render(result: UpdateResult) -> str:
    """What ``grade update`` prints: what was kept, what was taken, what needs the student's attention."""
    if result.up_to_date:
        lines = [f"Your copy already has handout {result.new.describe()}: nothing changed."]
        lines += [f"- {line}" for plan in result.modules for line in plan.attention]
        return "\n".join(lines)
    verb = "Updated" if result.relation != "older" else "Went back (--force)"
    lines = [f"{verb} your copy {result.copy} from handout {result.old.describe()} to {result.new.describe()}."]
    saved = [str(path.relative_to(result.copy)) for path in result.backups]
    if saved:
        lines.append(f"Your files as they were: {_names(saved)}.")
    if result.handout_backup is not None:
        lines.append(f"The old grader, pyproject.toml and README.md: {result.handout_backup.relative_to(result.copy)}/.")
    if result.handout_backup is not None:
        lines.append("Taken from the new handout: the grader (checks, expected results, hints), pyproject.toml and "
                     "README.md.")
    quiet = []
    for plan in result.modules:
        details = [(f"kept your code: {_names(plan.kept)}", plan.kept),
                   (f"new stubs (you had not started them): {_names(plan.new_stubs)}", plan.new_stubs),
                   (f"new items: {_names(plan.added)}", plan.added),
                   (f"removed from the course (you had not started them): {_names(plan.dropped)}", plan.dropped)]
        shown = [text for text, names in details if names]
        if plan.outcome in ("unchanged", "updated") and not shown:
            quiet.append(plan.name)
            continue
        lines.append(f"{plan.name}: {plan.outcome}")
        lines += [f"  {text}" for text in shown]
    if quiet:
        lines.append(f"Nothing you wrote and no stub changed in: {_names(quiet)}.")
    attention = [line for plan in result.modules for line in plan.attention]
    if attention:
        lines.append("Needs your attention:")
        lines += [f"- {line}" for line in attention]
    lines.append("Your progress and hint steps (.grade-progress.json) are kept.")
    if result.pyproject_changed:
        lines.append("pyproject.toml changed: run `pip install -e .` in your copy again.")
    lines.append("Next: run `grade check` to see where you stand with the new checks.")
    return "\n".join(line for line in lines if line)
