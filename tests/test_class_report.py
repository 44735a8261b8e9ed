"""`grade batch`'s report.html: one offline page an instructor reads, where nothing a student wrote can run."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from grader import class_report, gradebook, similarity
from grader.report import ExerciseResult, GradeReport, ItemResult

HOSTILE = "<script>alert('pwned')</script>"
MODULES = ["ex01_tensors", "ex02_gradient_descent"]
MAX_SCORES = {"ex01_tensors": 3.0, "ex02_gradient_descent": 4.0}
DLOSS_CHECK = "dloss_fn on 13 random predictions"
LIKELY_LINE = "Likely mistake: your derivative is N times too large: the / N that comes from the mean is missing"


def _report(name: str, ex01: dict[str, str] | None = None, ex02: dict[str, str] | None = None,
            feedback: dict[str, list[str]] | None = None, ex02_error: str | None = None) -> GradeReport:
    """ex01: ``cast`` (2 points) and ``matmul`` (1); ex02: ``dloss_fn`` (2) and ``grad_fn`` (2); all passed unless
    told otherwise."""
    feedback = feedback or {}

    def item(item_name: str, points: float, status: str) -> ItemResult:
        score = {"passed": points, "partial": points / 2}.get(status, 0.0)
        return ItemResult(item_name, score, points, status, feedback.get(item_name, []))

    ex01, ex02 = ex01 or {}, ex02 or {}
    return GradeReport(name, "cpu", [
        ExerciseResult("ex01_tensors", [item("cast", 2.0, ex01.get("cast", "passed")),
                                        item("matmul", 1.0, ex01.get("matmul", "passed"))]),
        ExerciseResult("ex02_gradient_descent", [item("dloss_fn", 2.0, ex02.get("dloss_fn", "passed")),
                                                 item("grad_fn", 2.0, ex02.get("grad_fn", "passed"))], ex02_error),
    ])


def _class() -> list[tuple[str, GradeReport | None, str]]:
    failing = f"{DLOSS_CHECK}: the result: 13 of 13 elements differ; worst at index (5,): expected -0.55, got -7.15"
    wrong_dloss = [failing, LIKELY_LINE, "Hint: run `grade hint ex02.dloss_fn`"]
    missing = "ex02_gradient_descent.py could not be imported: FileNotFoundError: no file ex02_gradient_descent.py " \
              "in the submission"
    return [
        ("ada", _report("ada"), "ok"),
        ("bea", _report("bea", ex02={"dloss_fn": "failed"}, feedback={"dloss_fn": wrong_dloss}), "ok"),
        ("cal", _report("cal", ex02={"dloss_fn": "partial", "grad_fn": "not_implemented"},
                        feedback={"dloss_fn": wrong_dloss}), "ok"),
        ("dan", _report("dan", ex01={"cast": "timeout"}, ex02={"dloss_fn": "error", "grad_fn": "error"},
                        feedback={"cast": ["cast on a (3, 4) tensor: did not finish within 5 s"]},
                        ex02_error=missing), "ok"),
        (HOSTILE, _report(HOSTILE, ex01={"matmul": "failed"},
                          feedback={"matmul": [f"matmul on two (2, 3) tensors: raised ValueError: {HOSTILE}"]}), "ok"),
        ("eve", None, "empty"),
        ("fay", None, f"rejected: {HOSTILE}.zip cannot be unpacked"),
        ("gus", None, "grader_error: the grading process died twice while grading gus"),
    ]


def _keys(rows: list[tuple[str, GradeReport | None, str]]) -> dict[str, str]:
    from grader import batch

    return batch.file_keys([name for name, _, _ in rows])


def _similar() -> similarity.SimilarityResult:
    code = [(10, "    total = 0"), (11, f"    label = \"{HOSTILE}\""), (12, "    return total")]
    match = similarity.ItemMatch("ex02.grad_fn", 0.93, 12, code, code, {10, 11}, {10, 11})
    return similarity.SimilarityResult([similarity.Pair(HOSTILE, "ada", [match], 2, 0.61)], 5,
                                       [f"{HOSTILE}: ex02_gradient_descent.py does not parse (SyntaxError); not compared"])


def _page(rows: list | None = None, similar: similarity.SimilarityResult | None = None) -> str:
    rows = rows if rows is not None else _class()
    summary = gradebook.summary(rows, max_score=sum(MAX_SCORES.values()))
    return class_report.render(rows, summary, _keys(rows), MODULES, MAX_SCORES, similar)


def _text(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities kept."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import matplotlib`` fails, as where the ``report`` extra is not installed."""
    for name in [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)


# ---------------------------------------------------------------- charts and tables
def test_the_report_holds_the_histogram_and_the_per_exercise_and_per_item_charts_as_inline_svg():
    pytest.importorskip("matplotlib")
    page = _page()
    labels = re.findall(r'<svg role="img" aria-label="([^"]+)"', page)
    assert labels == ["histogram of the scores", "mean score per exercise",
                      "how the class stands on each item of ex01_tensors",
                      "how the class stands on each item of ex02_gradient_descent"]
    assert class_report.CHART_HINT not in _text(page).replace("&quot;", '"')
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "two inline charts share an id: one would draw the other's clip paths"
    referenced = re.findall(r'(?:url\(#|href="#)([^")]+)', page)
    assert referenced and set(referenced) <= set(ids)


def test_without_matplotlib_the_tables_are_all_there_and_one_line_says_how_to_get_the_charts(no_matplotlib):
    page = _page(similar=_similar())
    assert "<svg" not in page
    assert 'pip install -e &quot;.[report]&quot;' in page
    assert page.count(class_report.CHART_HINT.split(":")[0]) == 1
    for section in ("overview", "exercises", "items", "wrong", "submissions", "similarity"):
        assert f'id="{section}"' in page
    assert "ex02.dloss_fn" in page and 'href="feedback/ada.md"' in page
    assert "<code>ex02.grad_fn</code>: similarity 0.93" in page


def test_writing_the_report_without_matplotlib_puts_report_html_in_out(no_matplotlib, tmp_path: Path):
    rows = _class()
    path = class_report.write(tmp_path, rows, gradebook.summary(rows), _keys(rows), MODULES, MAX_SCORES)
    assert path == tmp_path / "report.html" and "<table" in path.read_text(encoding="utf-8")


def test_a_students_script_tag_is_escaped_in_names_statuses_feedback_notes_and_code(no_matplotlib):
    page = _page(similar=_similar())
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.DOTALL)
    assert scripts == [class_report.SCRIPT], "the page's own sorting script is its only script"
    assert "alert(" not in class_report.SCRIPT
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    for where in ("matmul on two (2, 3) tensors: raised ValueError: &lt;script&gt;",  # feedback
                  "rejected: &lt;script&gt;",  # a status
                  "label = &quot;&lt;script&gt;",  # code shown side by side
                  "&lt;/script&gt;: ex02_gradient_descent.py does not parse"):  # a note
        assert where in page, where


def test_the_page_loads_nothing_and_allows_no_script_but_its_own():
    page = _page(similar=_similar())
    assert "<link" not in page and " src=" not in page and "@import" not in page
    assert all(target.startswith("#") for target in re.findall(r"url\(([^)]*)\)", page))
    assert all(target.startswith("#") for target in re.findall(r'xlink:href="([^"]*)"', page))
    assert all(href.startswith(("#", "feedback/")) for href in re.findall(r'href="([^"]*)"', page))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy and "unsafe-inline'; img" in policy


# ---------------------------------------------------------------- what the numbers say
def test_unattempted_items_are_counted_apart_from_attempted_but_wrong():
    stats = {entry.qualified: entry for entry in class_report.item_stats(_class())}
    grad_fn = stats["ex02.grad_fn"]
    # cal: not_implemented; dan: module not submitted; eve: empty -> unattempted; fay: rejected -> not graded
    assert grad_fn.counts["unattempted"] == 3 and grad_fn.counts["wrong"] == 0
    assert grad_fn.counts["passed"] == 3 and grad_fn.counts["not graded"] == 1
    dloss_fn = stats["ex02.dloss_fn"]
    assert dloss_fn.counts["wrong"] == 1 and dloss_fn.counts["partial"] == 1 and dloss_fn.counts["unattempted"] == 2
    assert stats["ex01.cast"].counts["wrong"] == 1  # a timeout is attempted-but-wrong
    # the grader error (gus) is left out; partial credit counts in the mean
    assert len(dloss_fn.scores) == 7
    assert dloss_fn.attempted_scores == [2.0, 0.0, 1.0, 2.0]


def test_the_most_frequent_failing_checks_and_feedback_lines_are_listed_per_item():
    stats = {entry.qualified: entry for entry in class_report.item_stats(_class())}
    assert stats["ex02.dloss_fn"].checks.most_common(1) == [(DLOSS_CHECK, 2)]
    assert stats["ex02.dloss_fn"].lines[LIKELY_LINE] == 2
    assert not any(line.startswith("Hint:") for line in stats["ex02.dloss_fn"].lines)
    wrong = _page().split('id="wrong"')[1].split('id="submissions"')[0]
    assert "ex02.dloss_fn" in wrong and "2&times;" in wrong and DLOSS_CHECK in wrong


def test_the_overview_counts_timeouts_crashes_rejected_and_grader_errors():
    found = class_report.counts(_class())
    assert (found.submissions, found.graded, found.empty, found.rejected, found.grader_errors, found.timeouts,
            found.crashes) == (8, 5, 1, 1, 1, 1, 0)


def test_each_submission_links_to_its_feedback_file_and_sorts_by_number(no_matplotlib):
    rows = _class()
    page = _page(rows)
    keys = _keys(rows)
    table = page.split('id="submissions"')[1]
    for name, _, _ in rows:
        assert f'href="feedback/{keys[name]}.md"' in table
    assert 'class="sortable"' in table and 'data-sort="-1"' in table  # gus: blank score, sorts first
    assert re.search(r'href="feedback/ada\.md">ada</a></td><td class="num" data-sort="7\.0">7</td>', table)


def test_a_class_with_no_report_at_all_still_gets_a_page(no_matplotlib):
    page = _page([("eve", None, "empty"), ("fay", None, "rejected: not a zip")])
    assert "No submission has a report yet." in page and 'href="feedback/eve.md"' in page
