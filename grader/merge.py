"""Merge one exercise module three ways, item by item, for ``grade update`` (:mod:`grader.update`).

The base is the stub the copy's handout shipped, "mine" the student's file, "new" the new handout's stub.
An item (a top-level function or class of a stub; inside a class, each method) the student did not change
takes the new stub; one they changed keeps their body and takes the new docstring and signature; a removed
item they changed is kept at the end under a comment; their own code outside the items stays where it was.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field


class _Unmergeable(Exception):
    """An item laid out so that its parts cannot be told apart (a body on the line of its ``def``)."""


@dataclass
class _Piece:
    """One statement of a block, with the blank lines and comments above it (``gap``) and its own text."""

    key: tuple[str, str]
    node: ast.stmt
    source: _Source
    gap: str
    text: str
    first: int
    end: int


class _Source:
    def __init__(self, text: str) -> None:
        self.tree = ast.parse(text)
        self.lines = text.splitlines(keepends=True)
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self.comments: dict[int, str] = {}
        try:
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                if token.type == tokenize.COMMENT:
                    self.comments[token.start[0]] = token.string
        except (tokenize.TokenError, SyntaxError):
            pass

    def span(self, first: int, last: int) -> str:
        return "".join(self.lines[first - 1:last])

    def comments_in(self, first: int, last: int) -> list[str]:
        return [self.comments[line] for line in range(first, last + 1) if line in self.comments]

    def pieces(self, body: list[ast.stmt], start: int, limit: int) -> tuple[list[_Piece], str]:
        """The pieces of the statements ``body`` found in lines ``start..limit``, and the text after the last."""
        pieces: list[_Piece] = []
        cursor = start
        for index, node in enumerate(body):
            first = _first_line(node)
            following = _first_line(body[index + 1]) if index + 1 < len(body) else limit + 1
            end = self._extended_end(node, following)
            if pieces and first <= pieces[-1].end:  # `a = 1; b = 2`: one piece
                last = pieces[-1]
                last.key = ("stmt", last.key[1] + ast.dump(node))
                last.end = max(last.end, end)
                last.text = self.span(last.first, last.end)
            else:
                pieces.append(_Piece(_key(node, index), node, self, self.span(cursor, first - 1),
                                     self.span(first, end), first, end))
            cursor = pieces[-1].end + 1
        return pieces, self.span(cursor, limit)

    def _extended_end(self, node: ast.stmt, following: int) -> int:
        """The last line of ``node``, counting the indented comments after it that still belong to it."""
        end = node.end_lineno or node.lineno
        for number in range(end + 1, following):
            line = self.lines[number - 1]
            if not line.strip():
                continue
            if len(line) - len(line.lstrip()) <= node.col_offset:
                break
            end = number
        return end


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(decorator.lineno for decorator in getattr(node, "decorator_list", []))])


def _is_def(node: ast.stmt) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def _key(node: ast.stmt, index: int) -> tuple[str, str]:
    if _is_def(node):
        return ("def", node.name)  # type: ignore[attr-defined]
    if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
            and isinstance(node.value.value, str):
        return ("doc", "")
    return ("stmt", ast.dump(node))


def _docstring(node: ast.stmt) -> ast.Expr | None:
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def _header_dump(node: ast.stmt) -> str:
    """The signature of a def or class: name, arguments, return annotation, bases, decorators."""
    parts = [type(node).__name__, node.name, *(ast.dump(d) for d in node.decorator_list)]  # type: ignore[attr-defined]
    if isinstance(node, ast.ClassDef):
        parts += [ast.dump(base) for base in node.bases] + [ast.dump(keyword) for keyword in node.keywords]
    else:
        parts += [ast.dump(node.args), ast.dump(node.returns) if node.returns else ""]  # type: ignore[attr-defined]
    return "\n".join(parts)


def _signature(node: ast.stmt) -> str:
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}({', '.join(ast.unparse(base) for base in node.bases)})"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""  # type: ignore[attr-defined]
    return f"def {node.name}({ast.unparse(node.args)}){returns}"  # type: ignore[attr-defined]


def _parts(piece: _Piece) -> tuple[str, ast.Expr | None, int]:
    """A def's or class's header text (decorators, signature), its docstring node and the first line after it."""
    node, source = piece.node, piece.source
    doc = _docstring(node)
    body = node.body  # type: ignore[attr-defined]
    for statement in body[:2]:  # a body on the line of the `def` or of the docstring has no line of its own
        if source.lines[statement.lineno - 1][:statement.col_offset].strip():
            raise _Unmergeable(node.name)  # type: ignore[attr-defined]
    rest = (doc.end_lineno or doc.lineno) + 1 if doc is not None else body[0].lineno
    return source.span(piece.first, body[0].lineno - 1), doc, rest


def _reindent(text: str, shift: int) -> str:
    if shift == 0:
        return text
    lines = text.splitlines(keepends=True)
    if shift > 0:
        return "".join(" " * shift + line if line.strip() else line for line in lines)
    return "".join(line[min(-shift, len(line) - len(line.lstrip(" "))):] for line in lines)


def _norm(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass
class ModulePlan:
    """What an update does to one exercise module, and what it tells the student about it."""

    name: str
    outcome: str  # "updated", "unchanged", "new", "left as is", "no longer in the course"
    text: str | None = None  # the module's new text; None: the file stays as it is
    kept: list[str] = field(default_factory=list)
    new_stubs: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)
    keep_old_pristine: bool = False


class _Merge:
    """The three-way merge of one module: the student's file, the old stub (the base) and the new stub."""

    def __init__(self, mine: str, old: str | None, new: str, number: str, label: str, verbatim: bool) -> None:
        self.mine, self.new = _Source(mine), _Source(new)
        self.old = _Source(old) if old is not None else None
        self.number, self.label, self.verbatim = number, label, verbatim
        self.plan = ModulePlan("", "updated")

    def module_text(self) -> str:
        mine, old, new = self.mine, self.old, self.new
        s_pieces, s_trailer = mine.pieces(mine.tree.body, 1, len(mine.lines))
        n_pieces, n_trailer = new.pieces(new.tree.body, 1, len(new.lines))
        o_pieces, o_trailer = old.pieces(old.tree.body, 1, len(old.lines)) if old else (None, n_trailer)
        text, removed = self._block(s_pieces, o_pieces, n_pieces, self.number, top=True)
        trailer = s_trailer if _norm(s_trailer) != _norm(o_trailer) else n_trailer
        text += trailer
        for piece in removed:
            name = f"{self.number}.{piece.key[1]}"
            text = (text.rstrip("\n") + f"\n\n\n# Kept by `grade update`: {name} is not part of handout {self.label}\n"
                    "# any more, so it is no longer graded. Your code is kept here.\n" + piece.text)
            self.plan.attention.append(f"{name} is not part of the new handout: your code is kept at the end of "
                                       f"exercises/{self.plan.name}.py under a comment; delete it when you no "
                                       "longer need it")
        return text if text.endswith("\n") else text + "\n"

    def _changed(self, mine: _Piece, base: _Piece) -> bool:
        return ast.dump(mine.node) != ast.dump(base.node) or \
            mine.source.comments_in(mine.first, mine.end) != base.source.comments_in(base.first, base.end)

    def _block(self, s_pieces: list[_Piece], o_pieces: list[_Piece] | None, n_pieces: list[_Piece], prefix: str,
               top: bool) -> tuple[str, list[_Piece]]:
        """The merged text of a block (a module's or a class's statements); at the top, the removed items the
        student changed, for the end of the module."""
        real_base = o_pieces is not None
        mine = {p.key: p for p in s_pieces}
        base = {p.key: p for p in (o_pieces if o_pieces is not None else n_pieces)}
        theirs = {p.key: p for p in n_pieces}
        out: list[tuple[tuple[str, str], str]] = []
        for n in n_pieces:
            s, o = mine.get(n.key), base.get(n.key)
            name = f"{prefix}.{n.key[1]}"
            if n.key[0] == "def":
                if s is None:
                    if real_base and o is not None:
                        self.plan.attention.append(f"{name} was not in your file (deleted or renamed?): its new stub "
                                                   "is added, so that it can be graded")
                    else:
                        self.plan.added.append(name)
                    out.append((n.key, n.gap + n.text))
                elif o is None:
                    out.append((n.key, s.gap + s.text))
                    if top:
                        self.plan.kept.append(name)
                    self.plan.attention.append(f"{name} is new in the handout, and your file already had code of that "
                                               "name: yours is kept; compare it with the new stub's docstring in "
                                               f"grader/pristine/{self.plan.name}.py, then run `grade check "
                                               f"{'.'.join(name.split('.')[:2])}`")
                elif not self._changed(s, o):
                    out.append((n.key, n.gap + n.text))
                    if top and ast.dump(o.node) != ast.dump(n.node):
                        self.plan.new_stubs.append(name)
                else:
                    gap = s.gap if _norm(s.gap) != _norm(o.gap) else n.gap
                    out.append((n.key, gap + self._item(s, o, n, name)))
                    if top:  # a class is listed, not each of its methods
                        self.plan.kept.append(name)
            elif n.key[0] == "doc":
                out.append((n.key, n.gap + n.text))
                if s is not None and o is not None and real_base and ast.dump(s.node) != ast.dump(o.node):
                    self.plan.attention.append(f"your notes in the docstring at the top of exercises/{self.plan.name}"
                                               ".py were replaced by the new one; they are in the backup")
            elif not (real_base and o is not None and s is None):  # else the student removed or edited it
                out.append((n.key, n.gap + n.text))
        removed: list[_Piece] = []
        for o in o_pieces or []:
            s = mine.get(o.key)
            if o.key[0] != "def" or o.key in theirs:
                continue
            if s is not None and self._changed(s, o):
                removed.append(s)
            else:
                self.plan.dropped.append(f"{prefix}.{o.key[1]}")
        if not top:  # a removed method stays in its class, where it was
            for piece in removed:
                self.plan.attention.append(f"{prefix}.{piece.key[1]} is not part of the new handout: your method is "
                                           "kept in its class")
        kept_removed = {id(p) for p in removed} if not top else set()
        emitted = {key for key, _ in out}
        inserts: dict[tuple[str, str] | None, list[str]] = {}
        anchor: tuple[str, str] | None = None
        for s in s_pieces:
            if s.key in emitted:
                anchor = s.key
            elif (s.key not in base and s.key not in theirs) or id(s) in kept_removed:
                inserts.setdefault(anchor, []).append(s.gap + s.text)
        lead = 0
        if top:  # code of the student's above every known statement goes below the docstring and __future__
            while lead < len(out) and (out[lead][0][0] == "doc" or "module='__future__'" in out[lead][0][1]):
                lead += 1
        parts: list[str] = []
        for index, (key, text) in enumerate(out):
            if index == lead:
                parts += inserts.pop(None, [])
            parts += [text, *inserts.pop(key, [])]
        parts += inserts.pop(None, [])
        return "".join(parts), (removed if top else [])

    def _item(self, s: _Piece, o: _Piece, n: _Piece, name: str) -> str:
        """A changed item: the student's body under the new docstring and, where the course changed it, signature."""
        course_changed_signature = _header_dump(o.node) != _header_dump(n.node)
        if type(s.node) is not type(n.node) or type(o.node) is not type(n.node) or self.verbatim:
            if self.verbatim or ast.dump(o.node) != ast.dump(n.node):
                self._compare_by_hand(name, n)
            return s.text
        try:
            s_header, s_doc, s_rest = _parts(s)
            _, o_doc, _ = _parts(o)
            n_header, n_doc, n_rest = _parts(n)
        except _Unmergeable:
            if ast.dump(o.node) != ast.dump(n.node):
                self._compare_by_hand(name, n)
            return s.text
        header = n_header if course_changed_signature else s_header
        if course_changed_signature:
            self.plan.attention.append(
                f"{name}: its signature changed in the new handout, from `{_signature(o.node)}` to "
                f"`{_signature(n.node)}`. Your body is kept under the new signature: check that it still fits "
                f"(read the new docstring), then run `grade check {'.'.join(name.split('.')[:2])}`")
        course_doc = (ast.get_docstring(o.node, clean=False), ast.get_docstring(n.node, clean=False))
        if course_doc[0] != course_doc[1]:
            doc = n.source.span(n_doc.lineno, n_doc.end_lineno or n_doc.lineno) if n_doc is not None else ""
            if doc:
                first_body = next(iter(s.node.body[1:] if s_doc is not None else s.node.body), None)  # type: ignore[attr-defined]
                target = first_body.col_offset if first_body is not None else (
                    s_doc.col_offset if s_doc is not None else n_doc.col_offset)  # type: ignore[union-attr]
                doc = _reindent(doc, target - n_doc.col_offset)  # type: ignore[union-attr]
            if s_doc is not None and o_doc is not None and \
                    ast.get_docstring(s.node, clean=False) != ast.get_docstring(o.node, clean=False):
                self.plan.attention.append(f"{name}: its docstring changed in the new handout and replaced your notes "
                                           "in it; they are in the backup")
        else:
            doc = s.source.span(s_doc.lineno, s_doc.end_lineno or s_doc.lineno) if s_doc is not None else ""
        if isinstance(s.node, ast.ClassDef):
            s_pieces, s_trailer = s.source.pieces(s.node.body[1:] if s_doc else s.node.body, s_rest, s.end)
            o_pieces, o_trailer = o.source.pieces(o.node.body[1:] if o_doc else o.node.body,  # type: ignore[attr-defined]
                                                  _parts(o)[2], o.end)
            n_pieces, n_trailer = n.source.pieces(n.node.body[1:] if n_doc else n.node.body,  # type: ignore[attr-defined]
                                                  n_rest, n.end)
            body, _ = self._block(s_pieces, o_pieces, n_pieces, name, top=False)
            body += s_trailer if _norm(s_trailer) != _norm(o_trailer) else n_trailer
        else:
            body = s.source.span(s_rest, s.end)
        return header + doc + body

    def _compare_by_hand(self, name: str, n: _Piece) -> None:
        self.plan.attention.append(f"{name}: the new handout changed its stub, and your code could not take the new "
                                   f"docstring or signature automatically; it is kept as you wrote it. Compare it with "
                                   f"`{_signature(n.node)}` in grader/pristine/{self.plan.name}.py")


def _function_bodies(tree: ast.Module) -> dict[str, str]:
    """``name`` or ``Class.method`` -> the dump of its body after the docstring, for the module's defs."""
    bodies: dict[str, str] = {}
    for node in tree.body:
        members = [(node.name, node)] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else []
        if isinstance(node, ast.ClassDef):
            members = [(f"{node.name}.{m.name}", m) for m in node.body
                       if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for name, function in members:
            body = function.body[1:] if _docstring(function) is not None else function.body
            bodies[name] = ast.dump(ast.Module(body=body, type_ignores=[]))
    return bodies


def merge_module(name: str, mine: str, old: str | None, new: str, label: str) -> ModulePlan:
    """Merge the student's text of module ``name`` with the old (None: unknown) and new stubs.

    The result keeps every function body the student wrote, checked on the syntax trees; when the merge cannot keep
    them with the new docstrings and signatures, their items are kept exactly as written, and when even that does
    not parse, the file is left as it is (``text`` None), with a line in ``attention`` either way.

    Raises:
        SyntaxError: ``mine`` does not parse.
    """
    number = name.split("_", 1)[0]
    mine_tree = ast.parse(mine)
    mine_bodies = _function_bodies(mine_tree)
    old_bodies = _function_bodies(ast.parse(old)) if old is not None else {}
    written = {key: body for key, body in mine_bodies.items() if old_bodies.get(key) != body}
    for verbatim in (False, True):
        merge = _Merge(mine, old, new, number, label, verbatim)
        merge.plan.name = name
        text = merge.module_text()
        try:
            merged = _function_bodies(ast.parse(text))
        except SyntaxError:
            continue
        if all(merged.get(key) == body for key, body in written.items()):
            plan = merge.plan
            plan.text = text
            plan.outcome = "unchanged" if text == mine else "updated"
            if old is None and plan.kept:
                plan.attention.append(f"exercises/{name}.py: the stubs your handout shipped were not found "
                                      "(grader/pristine/), so every item that differs from its new stub was kept as "
                                      "you wrote it, docstring included")
            return plan
    return ModulePlan(name, "left as is", keep_old_pristine=True, attention=[
        (f"exercises/{name}.py could not be merged automatically: it is left as it was. Compare it with the new "
         f"stubs in grader/pristine/{name}.py and copy over what changed")])


def plan_module(name: str, mine: str | None, old: str | None, new: str | None, label: str, new_arg: str) -> ModulePlan:
    """What to do with one module: merge it, write its new stub, or leave it (and why)."""
    number = name.split("_", 1)[0]
    if new is None:
        attention = [(f"exercises/{name}.py is not part of the new handout: it is left as it was and no longer "
                      "graded")] if mine is not None else []
        return ModulePlan(name, "no longer in the course", attention=attention)
    if mine is None:
        return ModulePlan(name, "new", text=new)
    try:
        return merge_module(name, mine, old, new, label)
    except SyntaxError as error:
        if old is not None and same_code(old, new):  # nothing of the course's to bring in: grade check shows it
            return ModulePlan(name, "unchanged")
        return ModulePlan(name, "left as is", keep_old_pristine=True, attention=[
            (f"exercises/{name}.py does not parse (line {error.lineno}: {error.msg}): it is left as it was, with its "
             f"old stubs. Fix that line (`grade check {number}` shows it), or start the module over with `grade "
             f"reset {number}`, then run `grade update {new_arg}` again to bring it up to date")])


def same_code(first: str, second: str) -> bool:
    """The same statements and comments, however laid out."""
    return ast.dump(ast.parse(first)) == ast.dump(ast.parse(second)) and \
        list(_Source(first).comments.values()) == list(_Source(second).comments.values())
