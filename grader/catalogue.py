"""The catalogue: which exercise modules and items exist, their points and hints, in order.

In the full kit the catalogue is read from the hidden suites' ``suite.item(...)`` declarations by
parsing them (no import, so ``grade list`` and ``grade hint`` answer instantly). A student handout
ships the same information as ``grader/catalogue.json``, written by ``grade release``.
"""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import grader

KIT_ROOT = Path(grader.__file__).resolve().parent.parent
SUITES_DIR = KIT_ROOT / "tests" / "hidden"
SOLUTIONS_DIR = KIT_ROOT / "solutions"
EXERCISES_DIR = KIT_ROOT / "exercises"
PUBLIC_CATALOGUE = Path(grader.__file__).resolve().parent / "catalogue.json"
PUBLIC_DIR = Path(grader.__file__).resolve().parent / "public"
PUBLIC_EXPECTED = PUBLIC_DIR / "expected.pt"


class UsageError(Exception):
    """The user asked for something that does not exist; the message names the fix."""


@dataclass
class ItemInfo:
    name: str
    points: int
    hint: str
    timeout: float = 5.0
    forbid: list[str] = field(default_factory=list)


@dataclass
class ModuleInfo:
    name: str
    items: list[ItemInfo]

    @property
    def number(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def max_score(self) -> int:
        return sum(item.points for item in self.items)


def has_hidden_suites() -> bool:
    """True in the full (instructor) kit, False in a student handout."""
    try:
        return SUITES_DIR.is_dir() and any(SUITES_DIR.glob("ex*.py"))
    except PermissionError:
        raise UsageError(f"{SUITES_DIR} is not readable by you: grading as root made the kit's hidden parts "
                         "private (chmod o-rwx). Grade as root, or ask the kit's owner to run "
                         "`chmod o+rx solutions tests` in the kit") from None


def suite_path(module_name: str) -> Path:
    """The checks of a module: the hidden suite in the full kit, the public one in a handout."""
    if has_hidden_suites():
        return SUITES_DIR / f"{module_name}.py"
    return PUBLIC_DIR / f"{module_name}.py"


def _literal(node: ast.AST, where: str) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError as error:
        raise ValueError(f"{where}: suite.item() arguments must be literals") from error


def read_suite_items(path: Path) -> list[ItemInfo]:
    """The ``suite.item(...)`` declarations of a suite file, in order, without importing it (read once per
    process and version of the file: every command that grades resolves its selection twice)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _SUITE_ITEMS:
        _SUITE_ITEMS[key] = _parse_suite_items(path)
    return [replace(info, forbid=list(info.forbid)) for info in _SUITE_ITEMS[key]]  # copies: callers may change them


_SUITE_ITEMS: dict[tuple[str, int, int], list[ItemInfo]] = {}


def _parse_suite_items(path: Path) -> list[ItemInfo]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "item"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "suite"):
            where = f"{path.name}:{node.lineno}"
            name = _literal(node.args[0], where)
            keywords = {k.arg: _literal(k.value, where) for k in node.keywords}
            found.append((node.lineno, ItemInfo(
                name=str(name), points=int(keywords["points"]), hint=str(keywords["hint"]).strip(),
                timeout=float(keywords.get("timeout", 5.0)), forbid=list(keywords.get("forbid", ())),
            )))
    found.sort(key=lambda pair: pair[0])
    return [info for _, info in found]


def load_catalogue() -> list[ModuleInfo]:
    """Every exercise module with its items, ordered by number."""
    if has_hidden_suites():
        modules = [ModuleInfo(path.stem, read_suite_items(path)) for path in sorted(SUITES_DIR.glob("ex*.py"))]
        return modules
    if PUBLIC_CATALOGUE.is_file():
        data = json.loads(PUBLIC_CATALOGUE.read_text(encoding="utf-8"))
        return [ModuleInfo(m["name"], [ItemInfo(**i) for i in m["items"]]) for m in data["modules"]]
    raise UsageError("this copy of the kit has no exercises catalogue (no tests/hidden and no "
                     "grader/catalogue.json): reinstall the kit or the handout")


def catalogue_json(modules: list[ModuleInfo]) -> str:
    return json.dumps({"modules": [{"name": m.name, "items": [asdict(i) for i in m.items]} for m in modules]},
                      indent=2)


@dataclass
class Selection:
    """Which modules, and within them which items (None: all), to grade."""

    modules: list[ModuleInfo]
    items: dict[str, set[str] | None]

    def points(self, module: ModuleInfo) -> int:
        """The points of ``module``'s selected items."""
        chosen = self.items.get(module.name)
        return sum(item.points for item in module.items if chosen is None or item.name in chosen)


def select(selectors: list[str] | tuple[str, ...], modules: list[ModuleInfo]) -> Selection:
    """Resolve ``ex02``, ``ex02_gradient_descent`` or ``ex02.grad_fn`` selectors.

    Raises:
        UsageError: naming the unknown selector and the valid choices.
    """
    if not selectors:
        return Selection(modules, {m.name: None for m in modules})
    chosen: dict[str, set[str] | None] = {}
    for selector in selectors:
        module_part, _, item_part = selector.partition(".")
        module = _find_module(module_part, modules)
        if item_part:
            names = [i.name for i in module.items]
            if item_part not in names:
                raise UsageError(f"{module.name} has no item {item_part!r}; its items are: {', '.join(names)}. "
                                 f"Run `grade list` to see every item.")
            if chosen.get(module.name, set()) is not None:
                chosen.setdefault(module.name, set()).add(item_part)  # type: ignore[union-attr]
        else:
            chosen[module.name] = None
    ordered = [m for m in modules if m.name in chosen]
    return Selection(ordered, chosen)


def _find_module(text: str, modules: list[ModuleInfo]) -> ModuleInfo:
    for module in modules:
        if text in (module.name, module.number):
            return module
    valid = ", ".join(m.number for m in modules)
    raise UsageError(f"unknown exercise {text!r}: choose one of {valid} (or a full name such as "
                     f"{modules[0].name if modules else 'ex01_tensors'}). Run `grade list` to see them all.")


def find_item(selector: str, modules: list[ModuleInfo]) -> tuple[ModuleInfo, ItemInfo]:
    """The item named by ``ex02.grad_fn`` (or ``ex02_gradient_descent.grad_fn``)."""
    module_part, _, item_part = selector.partition(".")
    module = _find_module(module_part, modules)
    if not item_part:
        raise UsageError(f"name an item, e.g. {module.number}.{module.items[0].name}")
    for item in module.items:
        if item.name == item_part:
            return module, item
    raise UsageError(f"{module.name} has no item {item_part!r}; its items are: "
                     f"{', '.join(i.name for i in module.items)}")
