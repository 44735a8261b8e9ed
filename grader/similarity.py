"""Near-identical code between submissions, item by item: pairs for a human to review, never proof.

Each item (a function or class of an exercise module) of each submission is reduced to fingerprints
the way MOSS does it (Schleimer, Wilkerson and Aiken, "Winnowing: Local Algorithms for Document
Fingerprinting", SIGMOD 2003):

1. **Its own code only.** The item's body is taken from the syntax tree: the signature and the
   docstring are the stub's, so they never count; in a class, each method's body likewise. Any
   statement the stub itself holds (``raise NotImplementedError(...)``, a class attribute it gives)
   is dropped, and so is every k-gram the stub's text has.
2. **Normalized tokens** (:mod:`tokenize`): every identifier becomes ``N`` (renaming variables hides
   nothing), every literal one token of its kind (``int``, ``float``, ``str``...), comments, blank
   lines, line breaks inside brackets and bare strings (docstrings) are dropped; keywords, operators,
   line ends and indentation stay (the structure of the code).
3. **Winnowing.** Every run of :data:`K` tokens is hashed; in each window of :data:`WINDOW`
   consecutive hashes the smallest is kept. Any common run of at least ``K + WINDOW - 1`` tokens
   then shares a fingerprint, and a run shorter than ``K`` never does.
4. **Pairs from an inverted index**, per item: fingerprint -> submissions that have it. Only
   submissions sharing a fingerprint are ever compared (no loop over all pairs), and a fingerprint
   found in more than :data:`COMMON_LIMIT` submissions is the natural way to write that code, not a
   copy (MOSS's ``-m``): it never makes two submissions a pair.

An item's similarity is ``shared / union`` of the two fingerprint sets (Jaccard), the shared
fingerprints counted without the common ones. Bodies shorter than :data:`MIN_TOKENS` tokens
(``return w * t_u + b``) are the same in every correct solution and are left out. A pair is
listed when at least one item reaches :data:`SIMILAR_AT`; ``overall`` is the same ratio summed over
every item both submissions wrote. Reordering functions, renaming variables and changing comments
or formatting change none of this.

The work is bounded: at most :data:`MAX_SUBMISSIONS` submissions, :data:`MAX_MODULE_CHARS`
characters per module and :data:`MAX_ITEM_TOKENS` tokens per item are read; what was left out is
named in :attr:`SimilarityResult.notes`. Source is only parsed and tokenized, never run.
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import csv
import hashlib
import io
import keyword
import lzma
import tempfile
import tokenize
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader import catalogue, stubs, submissions

K = 8
"""Tokens per k-gram: MOSS's noise threshold (shorter common runs never match)."""
WINDOW = 4
"""Hashes per winnowing window: every common run of ``K + WINDOW - 1`` tokens or more is found."""
MIN_TOKENS = 40
"""An item body shorter than this (after the stub's statements are dropped) is not compared: one statement the
docstring dictates (``return torch.cat([a, b], dim=0), torch.stack([a, b], dim=0)``, 32 tokens) is the same in every
correct solution."""
SIMILAR_AT = 0.5
"""An item is similar when ``shared / union`` of its fingerprints reaches this. Measured on hand-written independent
solutions of ex02 and ex05 against the reference (at most 0.35) and on copies with a line added or a call changed
(0.53 and more; a copy that only renames, reorders or recomments scores 1.0)."""
MIN_SHARED = 4
"""...and the two bodies share at least this many fingerprints that are not common."""
COMMON_LIMIT = 10
"""A fingerprint in more submissions than this (for one item) is common code, not a copy."""
MAX_SUBMISSIONS = 1000
MAX_MODULE_CHARS = 256 * 1024
MAX_ITEM_TOKENS = 5000
MAX_SHOWN_LINES = 120
MAX_SHOWN_CHARS = 240
UNREADABLE = (submissions.Rejected, OSError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError,
              EOFError, RuntimeError, ValueError)
"""What reading a submission again may raise (as in ``grade batch``): the submission is skipped, not the batch."""


@dataclass
class ItemCode:
    """One item's own code in one submission: normalized tokens, their lines, and the text to show."""

    tokens: list[str]
    lines: list[int]
    shown: list[tuple[int, str]]
    """``(line number, text)`` of the lines from the first own statement to the last, docstrings left out (at most
    :data:`MAX_SHOWN_LINES`)."""


@dataclass
class _Fingerprinted:
    """An item of one submission in the index: its fingerprints (hash -> first and last line) and text."""

    fingerprints: dict[int, tuple[int, int]]
    shown: list[tuple[int, str]]


@dataclass
class ItemMatch:
    """One similar item of a pair: the similarity, the shared fingerprints, the two bodies to compare."""

    item: str
    """Qualified: ``ex02.grad_fn``."""
    similarity: float
    shared: int
    text_a: list[tuple[int, str]]
    text_b: list[tuple[int, str]]
    lines_a: set[int] = field(default_factory=set)
    """Lines of ``a``'s body covered by a shared fingerprint (to highlight)."""
    lines_b: set[int] = field(default_factory=set)


@dataclass
class Pair:
    """Two submissions with at least one similar item."""

    a: str
    b: str
    matches: list[ItemMatch]
    compared: int
    """Items both submissions wrote (long enough to compare)."""
    overall: float

    @property
    def items(self) -> list[str]:
        return [match.item for match in self.matches]


@dataclass
class SimilarityResult:
    """The flagged pairs, most similar first, and what the comparison covered."""

    pairs: list[Pair]
    submissions: int
    """Submissions whose code was read."""
    notes: list[str] = field(default_factory=list)
    """What was left out and why (a module that does not parse, a submission over a limit...)."""


# ---------------------------------------------------------------- tokens
def _number_kind(text: str) -> str:
    lowered = text.lower()
    if lowered.endswith("j"):
        return "#complex"
    if lowered.startswith(("0x", "0o", "0b")):
        return "#int"
    return "#float" if any(mark in lowered for mark in ".e") else "#int"


def _string_kind(text: str) -> str:
    prefix = text[: len(text) - len(text.lstrip("rRbBuUfF"))].lower()
    return "$bytes" if "b" in prefix else "$str"


def normalized_tokens(source: str) -> list[tuple[str, tuple[int, int]]]:
    """The module's tokens, normalized, with where each starts (line, column in characters).

    Identifiers -> ``N``; numbers -> ``#int`` / ``#float`` / ``#complex``; strings (f-strings whole)
    -> ``$str`` / ``$bytes``; ``;`` -> a line end; comments, blank lines and line breaks inside
    brackets are dropped; keywords, operators, line ends and indentation stay.

    Raises:
        SyntaxError: (or :class:`tokenize.TokenError`) the source does not tokenize.
    """
    out: list[tuple[str, tuple[int, int]]] = []
    fstring_depth = 0
    start_type = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+: f-strings come in pieces
    end_type = getattr(tokenize, "FSTRING_END", None)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        kind = token.type
        if start_type is not None and kind == start_type:
            if fstring_depth == 0:
                out.append(("$str", token.start))
            fstring_depth += 1
            continue
        if end_type is not None and kind == end_type:
            fstring_depth -= 1
            continue
        if fstring_depth:
            continue
        if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        if kind == tokenize.NAME:
            text = token.string if keyword.iskeyword(token.string) else "N"
        elif kind == tokenize.NUMBER:
            text = _number_kind(token.string)
        elif kind == tokenize.STRING:
            text = _string_kind(token.string)
        elif kind == tokenize.NEWLINE or (kind == tokenize.OP and token.string == ";"):
            text = ";"
        elif kind == tokenize.INDENT:
            text = ">"
        elif kind == tokenize.DEDENT:
            text = "<"
        else:
            text = token.string
        out.append((text, token.start))
    return _collapse_literal_runs(out)


def _collapse_literal_runs(tokens: list[tuple[str, tuple[int, int]]]) -> list[tuple[str, tuple[int, int]]]:
    """``1.0, -2.0, 3.5`` -> one ``#float...`` token: a table of data (given in the docstring) is not code."""
    out: list[tuple[str, tuple[int, int]]] = []
    index = 0
    while index < len(tokens):
        text, start = tokens[index]
        end = index + 1
        if text[0] in "#$":
            count = 1
            while end + 1 < len(tokens) and tokens[end][0] == ",":
                step = 2 if tokens[end + 1][0] in ("-", "+") else 1
                if end + step < len(tokens) and tokens[end + step][0][0] in "#$":
                    end, count = end + step + 1, count + 1
                else:
                    break
            if count > 1:
                text = text + "..."
            else:
                end = index + 1
        out.append((text, start))
        index = end
    return out


# ---------------------------------------------------------------- items
Span = tuple[tuple[int, int], tuple[int, int]]


def _char_column(lines: list[str], line: int, byte_column: int) -> int:
    """``ast`` columns count UTF-8 bytes, :mod:`tokenize` columns characters."""
    if not 1 <= line <= len(lines):
        return byte_column
    return len(lines[line - 1].encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))


def _span(node: ast.AST, lines: list[str]) -> Span:
    start = (node.lineno, _char_column(lines, node.lineno, node.col_offset))
    end_line = node.end_lineno or node.lineno
    end_column = node.end_col_offset if node.end_col_offset is not None else len(lines[end_line - 1]) + 1
    return start, (end_line, _char_column(lines, end_line, end_column))


def _is_bare_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _own_statements(node: ast.stmt) -> list[ast.stmt]:
    """The statements an item's author wrote: a function's body, a class's statements and methods' bodies,
    never a signature or docstring."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [statement for statement in node.body if not _is_bare_string(statement)]
    own: list[ast.stmt] = []
    for statement in getattr(node, "body", []):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            own.extend(s for s in statement.body if not _is_bare_string(s))
        elif not _is_bare_string(statement):
            own.append(statement)
    return own


def _items(tree: ast.Module, names: Iterable[str]) -> dict[str, ast.stmt]:
    wanted = set(names)
    found: dict[str, ast.stmt] = {}
    for node in tree.body:  # the last definition wins, as when the module runs
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in wanted:
            found[node.name] = node
    return found


def _inside(position: tuple[int, int], spans: list[Span], starts: list[tuple[int, int]]) -> bool:
    index = bisect.bisect_right(starts, position) - 1
    return index >= 0 and spans[index][0] <= position < spans[index][1]


def _statement_tokens(statement: ast.stmt, tokens: list[tuple[str, tuple[int, int]]],
                      positions: list[tuple[int, int]], lines: list[str]) -> tuple[str, ...]:
    start, end = _span(statement, lines)
    return tuple(text for text, _ in tokens[bisect.bisect_left(positions, start):bisect.bisect_left(positions, end)])


def stub_statements(stub: str | None, names: Iterable[str]) -> dict[str, set[tuple[str, ...]]]:
    """Item name -> the normalized tokens of each of its own statements in the stub (none when it does not parse)."""
    found: dict[str, set[tuple[str, ...]]] = {}
    if stub is None:
        return found
    with contextlib.suppress(SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError):
        tree, lines, tokens = ast.parse(stub), stub.splitlines(), normalized_tokens(stub)
        positions = [position for _, position in tokens]
        for name, node in _items(tree, names).items():
            found[name] = {_statement_tokens(s, tokens, positions, lines) for s in _own_statements(node)}
    return found


def item_code(source: str, names: Iterable[str], stub: str | None = None,
              given: dict[str, set[tuple[str, ...]]] | None = None) -> dict[str, ItemCode]:
    """Each named item's own code in ``source``: normalized tokens (at most :data:`MAX_ITEM_TOKENS`), the
    line of each, and the body's text; statements identical to one of the ``stub``'s are left out (``given``:
    :func:`stub_statements` of the stub, computed once for many sources).

    Raises:
        SyntaxError: (or ValueError, RecursionError, MemoryError, :class:`tokenize.TokenError`) ``source`` does
            not parse.
    """
    names = list(names)
    tree = ast.parse(source)
    lines = source.splitlines()
    tokens = normalized_tokens(source)
    positions = [position for _, position in tokens]
    if given is None:
        given = stub_statements(stub, names)
    result: dict[str, ItemCode] = {}
    for name, node in _items(tree, names).items():
        stubs_own = given.get(name, set())
        own = [s for s in _own_statements(node) if _statement_tokens(s, tokens, positions, lines) not in stubs_own]
        spans = sorted(_span(s, lines) for s in own)
        bare = sorted(_span(s, lines) for statement in own for s in ast.walk(statement) if _is_bare_string(s))
        span_starts, bare_starts = [span[0] for span in spans], [span[0] for span in bare]
        item_start, item_end = _span(node, lines)
        inside_item = tokens[bisect.bisect_left(positions, item_start):bisect.bisect_left(positions, item_end)]
        kept = [(text, position) for text, position in inside_item
                if _inside(position, spans, span_starts) and not _inside(position, bare, bare_starts)]
        kept = kept[:MAX_ITEM_TOKENS]
        # from the first own statement to the last (comments and method signatures between them included)
        first, last = (spans[0][0][0], max(span[1][0] for span in spans)) if spans else (1, 0)
        shown_lines = sorted(set(range(first, last + 1))
                             - {number for span in bare for number in range(span[0][0], span[1][0] + 1)})
        shown = [(number, lines[number - 1][:MAX_SHOWN_CHARS]) for number in shown_lines[:MAX_SHOWN_LINES]
                 if number <= len(lines)]
        result[name] = ItemCode([text for text, _ in kept], [position[0] for _, position in kept], shown)
    return result


# ---------------------------------------------------------------- fingerprints
def _hash(gram: Sequence[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode("utf-8"), digest_size=8).digest(), "big")


def fingerprints(tokens: Sequence[str], k: int = K, window: int = WINDOW) -> dict[int, int]:
    """Winnowing (Schleimer, Wilkerson and Aiken 2003): hash -> position of the first k-gram selected with it.

    In each window of ``window`` consecutive k-gram hashes the smallest is selected (the rightmost
    on a tie); a position is recorded once however many windows select it.
    """
    if len(tokens) < k:
        return {_hash(tokens): 0} if tokens else {}
    hashes = [_hash(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]
    selected: dict[int, int] = {}
    previous = -1
    for start in range(max(1, len(hashes) - window + 1)):
        chunk = hashes[start:start + window]
        smallest = min(chunk)
        position = start + max(i for i, value in enumerate(chunk) if value == smallest)
        if position != previous:
            selected.setdefault(hashes[position], position)
            previous = position
    return selected


# ---------------------------------------------------------------- the index
class Index:
    """Fingerprints of every submission's items; :meth:`result` gives the similar pairs.

    Args:
        items: module name -> the names of its items to compare.
        stub_sources: module name -> the stub's source (its statements and k-grams never count).
    """

    def __init__(self, items: dict[str, list[str]], stub_sources: dict[str, str | None]) -> None:
        self.items = items
        self.stub_sources = stub_sources
        self.stub_prints: dict[str, set[int]] = {}
        self.stub_statements = {module: stub_statements(stub_sources.get(module), names)
                                for module, names in items.items()}
        for module, names in items.items():
            stub = stub_sources.get(module)
            if stub is None:
                continue
            with contextlib.suppress(SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError):
                for name, code in item_code(stub, names, given={}).items():
                    self.stub_prints[f"{module}.{name}"] = set(fingerprints(code.tokens))
        self.entries: dict[str, dict[str, _Fingerprinted]] = {}
        """Qualified item -> submission -> its fingerprints."""
        self.names: set[str] = set()
        self.notes: list[str] = []

    def add(self, submission: str, module: str, source: str) -> None:
        """Fingerprint the items of one module of one submission (a module over the limits is noted, not read)."""
        self.names.add(submission)
        if len(source) > MAX_MODULE_CHARS:
            self.notes.append(f"{submission}: {module}.py is longer than {MAX_MODULE_CHARS // 1024} KiB; not compared")
            return
        try:
            codes = item_code(source, self.items.get(module, []), given=self.stub_statements.get(module, {}))
        except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as error:
            self.notes.append(f"{submission}: {module}.py does not parse ({type(error).__name__}); not compared")
            return
        number = module.split("_", 1)[0]
        for name, code in codes.items():
            if len(code.tokens) < MIN_TOKENS:
                continue
            stub_prints = self.stub_prints.get(f"{module}.{name}", set())
            prints = {value: (code.lines[position], code.lines[min(position + K, len(code.lines)) - 1])
                      for value, position in fingerprints(code.tokens).items() if value not in stub_prints}
            if prints:
                self.entries.setdefault(f"{number}.{name}", {})[submission] = _Fingerprinted(prints, code.shown)

    def result(self) -> SimilarityResult:
        """The pairs with at least one similar item, most similar items first, then highest overall."""
        matches: dict[tuple[str, str], list[ItemMatch]] = {}
        common: dict[str, set[int]] = {}
        for item, by_submission in self.entries.items():
            candidates, common[item] = _candidates(by_submission)
            for (a, b), shared in candidates.items():
                first, second = by_submission[a].fingerprints, by_submission[b].fingerprints
                union = len(first.keys() | second.keys())
                similarity = shared / union if union else 0.0
                if similarity >= SIMILAR_AT and shared >= MIN_SHARED:
                    both = (first.keys() & second.keys()) - common[item]
                    matches.setdefault((a, b), []).append(ItemMatch(
                        item, round(similarity, 4), shared, by_submission[a].shown, by_submission[b].shown,
                        _covered(first, both), _covered(second, both)))
        pairs = [self._pair(a, b, found, common) for (a, b), found in matches.items()]
        pairs.sort(key=lambda pair: (-len(pair.matches), -pair.overall, pair.a, pair.b))
        return SimilarityResult(pairs, len(self.names), list(self.notes))

    def _pair(self, a: str, b: str, found: list[ItemMatch], common: dict[str, set[int]]) -> Pair:
        """The pair and its ``overall``: shared (not common) over union, summed over every item both wrote."""
        shared = union = compared = 0
        for item, by_submission in self.entries.items():
            if a in by_submission and b in by_submission:
                first, second = by_submission[a].fingerprints.keys(), by_submission[b].fingerprints.keys()
                compared += 1
                union += len(first | second)
                shared += len((first & second) - common[item])
        found.sort(key=lambda match: (-match.similarity, match.item))
        return Pair(a, b, found, compared, round(shared / union, 4) if union else 0.0)


def _candidates(by_submission: dict[str, _Fingerprinted]) -> tuple[dict[tuple[str, str], int], set[int]]:
    """(a, b) with a < b -> how many fingerprints they share that are not common; and the common ones (held by
    more than :data:`COMMON_LIMIT` submissions). Only submissions sharing a fingerprint are ever paired."""
    postings: dict[int, list[str]] = {}
    for submission, entry in by_submission.items():
        for value in entry.fingerprints:
            postings.setdefault(value, []).append(submission)
    shared: dict[tuple[str, str], int] = {}
    common: set[int] = set()
    for value, holders in postings.items():
        if len(holders) > COMMON_LIMIT:
            common.add(value)
            continue
        ordered = sorted(holders)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                shared[(a, b)] = shared.get((a, b), 0) + 1
    return shared, common


def _covered(prints: dict[int, tuple[int, int]], shared: set[int]) -> set[int]:
    return {line for value in shared for line in range(prints[value][0], prints[value][1] + 1)}


# ---------------------------------------------------------------- a class's submissions
def stub_sources(module_names: Iterable[str]) -> dict[str, str | None]:
    """Each module's pristine stub (:func:`grader.stubs.pristine_source`, else ``exercises/``; None: neither)."""
    found: dict[str, str | None] = {}
    for name in module_names:
        try:
            found[name] = stubs.pristine_source(name)
        except (catalogue.UsageError, OSError, StopIteration, SyntaxError):
            path = catalogue.EXERCISES_DIR / f"{name}.py"
            found[name] = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    return found


def compare_submissions(entries: Sequence[submissions.Submission], items: dict[str, list[str]]) -> SimilarityResult:
    """Read each submission's modules again (:func:`grader.submissions.prepare`, one private temporary folder at
    a time, removed at once) and compare them; a submission that cannot be read is noted and skipped."""
    index = Index(items, stub_sources(items))
    chosen = list(entries)[:MAX_SUBMISSIONS]
    if len(entries) > MAX_SUBMISSIONS:
        index.notes.append(f"only the first {MAX_SUBMISSIONS} of {len(entries)} submissions (by name) were compared")
    for entry in chosen:
        with tempfile.TemporaryDirectory(prefix="grade-similarity-") as folder:
            try:
                prepared = submissions.prepare(entry, Path(folder) / "submission")
            except UNREADABLE as error:  # rejected, an unreadable zip: grades.csv says why
                index.notes.append(f"{entry.name}: not read ({type(error).__name__}); see its status in grades.csv")
                continue
            for module in prepared.modules:
                if module in items:
                    source = (prepared.folder / f"{module}.py").read_text(encoding="utf-8", errors="replace")
                    index.add(entry.name, module, source)
    return index.result()


def selected_items(selection: catalogue.Selection) -> dict[str, list[str]]:
    """Module name -> the names of the items a batch graded (what is compared)."""
    chosen: dict[str, list[str]] = {}
    for module in selection.modules:
        wanted = selection.items.get(module.name)
        chosen[module.name] = [item.name for item in module.items if wanted is None or item.name in wanted]
    return chosen


# ---------------------------------------------------------------- output
CSV_FILE = "similarity.csv"
CSV_HEADER = ["submission_a", "submission_b", "items", "similar_items", "similarity_per_item", "compared_items",
              "overall"]


def similarity_csv(result: SimilarityResult) -> str:
    """``similarity.csv``: one row per flagged pair, most similar first.

    ``items`` counts the similar items, ``similar_items`` names them (``ex02.grad_fn ex02.training_loop``),
    ``similarity_per_item`` gives each one's ``shared / union`` (``ex02.grad_fn=1.00 ...``),
    ``compared_items`` how many items both submissions wrote, ``overall`` the ratio over all of those.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for pair in result.pairs:
        writer.writerow([pair.a, pair.b, len(pair.matches), " ".join(pair.items),
                         " ".join(f"{m.item}={m.similarity:.2f}" for m in pair.matches), pair.compared,
                         f"{pair.overall:.2f}"])
    return buffer.getvalue()


def write_csv(out: Path, result: SimilarityResult) -> Path:
    """Write ``OUT/similarity.csv`` (atomically, like the gradebook) and return its path."""
    from grader import gradebook

    path = out / CSV_FILE
    gradebook.write_atomically(path, similarity_csv(result))
    return path
