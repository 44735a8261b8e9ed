"""``OUT/report.html``: the class at a glance, in one self-contained page that opens offline.

What it shows, from the rows ``grade batch`` already has (the :class:`~grader.report.GradeReport` of
each submission, or its status): the score histogram; each exercise's and item's mean score (partial
credit counted), with the submissions that never attempted an item (``not_implemented``, the module
not submitted, an empty submission) apart from those that attempted it and got it wrong; what the
class got wrong (the most frequent failing checks and feedback lines of each item); how many
submissions timed out, crashed, were rejected or met a grader error; a sortable table of the
submissions, each linking to its ``feedback/<key>.md``; and the pairs :mod:`grader.similarity` found.

Charts are drawn by matplotlib as SVG and inlined (the ``report`` extra: ``pip install -e
".[report]"``); without matplotlib the page says so in one line and keeps every table. The page
loads nothing: its CSS is inline, its only script (sorting the tables) is inline and allowed by hash
in a Content-Security-Policy that forbids every other script. Every string that comes from a
submission (names, statuses, feedback, code) is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import statistics
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grader
from grader import gradebook
from grader.mistakes import LIKELY
from grader.report import GradeReport, _points
from grader.similarity import SimilarityResult

REPORT_FILE = "report.html"
CHART_HINT = 'Charts need matplotlib: run `pip install -e ".[report]"` in the kit, then grade again (or `--resume`).'
CATEGORIES = ("passed", "partial", "wrong", "unattempted", "not graded")
"""How one submission stands on one item: ``wrong`` is attempted and failed (failed, error, missing, timeout,
crashed); ``unattempted`` is ``not_implemented``, the module not submitted or an empty submission;
``not graded`` a rejected submission or a check this machine could not run."""
COLOURS = {"passed": "#2e7d32", "partial": "#9ccc65", "wrong": "#e53935", "unattempted": "#bdbdbd",
           "not graded": "#7e57c2"}
WRONG_STATUSES = ("failed", "error", "missing", "timeout", "crashed")
TOP_LINES = 5
MAX_LINE_CHARS = 300
MAX_PAIRS_SHOWN = 50
NOT_SUBMITTED = "could not be imported: FileNotFoundError: no file"
"""What the engine says of a module a submission does not have (``<module>.py could not be imported: ...``)."""
GENERIC_PREFIXES = ("Hint: ", "... and ", "not implemented yet")

Row = tuple[str, GradeReport | None, str]


# ---------------------------------------------------------------- statistics
@dataclass
class ItemStats:
    """One item over the class: how many submissions in each category, the mean score, what went wrong."""

    module: str
    name: str
    max_score: float
    counts: Counter = field(default_factory=Counter)
    scores: list[float] = field(default_factory=list)
    """The item's score in every scored submission (0 without a report)."""
    attempted_scores: list[float] = field(default_factory=list)
    checks: Counter = field(default_factory=Counter)
    """Failing check (the feedback line's text before its first ``": "``) -> submissions."""
    lines: Counter = field(default_factory=Counter)
    """Feedback line (a likely mistake, a check's message) -> submissions."""

    @property
    def qualified(self) -> str:
        return f"{self.module.split('_', 1)[0]}.{self.name}"


def _category(status: str, module_missing: bool) -> str:
    if module_missing or status == "not_implemented":
        return "unattempted"
    if status in ("passed", "partial"):
        return status
    if status == "not_graded":
        return "not graded"
    return "wrong"


def _check_of(line: str) -> str | None:
    """The failing check a feedback line names (its text before ``": "``), None for other lines."""
    if line.startswith((LIKELY, *GENERIC_PREFIXES)) or ": " not in line:
        return None
    return line.split(": ", 1)[0][:MAX_LINE_CHARS]


def item_stats(rows: Sequence[Row]) -> list[ItemStats]:
    """Per item, in the order of the reports: categories, scores and the failing checks and lines counted once per
    submission. Grader errors are left out (as in the summary); a row without a report counts 0 on every item."""
    stats: dict[tuple[str, str], ItemStats] = {}
    order: list[tuple[str, str]] = []
    scored = [(name, report, status) for name, report, status in rows if not gradebook.is_grader_error(status)]
    for _, report, _status in scored:
        for exercise in report.exercises if report is not None else []:
            for item in exercise.items:
                key = (exercise.name, item.name)
                if key not in stats:
                    stats[key] = ItemStats(exercise.name, item.name, item.max_score)
                    order.append(key)
    for _, report, status in scored:
        if report is None:
            for entry in stats.values():
                entry.counts["unattempted" if status == "empty" else "not graded"] += 1
                entry.scores.append(0.0)
            continue
        seen = set()
        for exercise in report.exercises:
            missing = bool(exercise.error) and NOT_SUBMITTED in exercise.error
            for item in exercise.items:
                entry = stats[(exercise.name, item.name)]
                seen.add((exercise.name, item.name))
                category = _category(item.status, missing)
                entry.counts[category] += 1
                entry.scores.append(item.score)
                if category in ("passed", "partial", "wrong"):
                    entry.attempted_scores.append(item.score)
                if category in ("partial", "wrong"):
                    lines = [line[:MAX_LINE_CHARS] for line in item.feedback
                             if not line.startswith(GENERIC_PREFIXES)]
                    entry.lines.update(set(lines))
                    entry.checks.update({check for line in lines if (check := _check_of(line)) is not None})
        for key, entry in stats.items():  # an item this report lacks (another selection): unattempted
            if key not in seen:
                entry.counts["unattempted"] += 1
                entry.scores.append(0.0)
    return [stats[key] for key in order]


@dataclass
class Counts:
    """Submissions by what happened to them (a submission may be in several of the last groups)."""

    submissions: int = 0
    graded: int = 0
    empty: int = 0
    rejected: int = 0
    grader_errors: int = 0
    timeouts: int = 0
    crashes: int = 0
    import_errors: int = 0
    with_notes: int = 0


def counts(rows: Sequence[Row]) -> Counts:
    found = Counts(submissions=len(rows))
    for _, report, status in rows:
        if gradebook.is_grader_error(status):
            found.grader_errors += 1
        elif status == "empty":
            found.empty += 1
        elif status.startswith("rejected"):
            found.rejected += 1
        if report is None:
            continue
        found.graded += 1
        statuses = {item.status for exercise in report.exercises for item in exercise.items}
        found.timeouts += "timeout" in statuses
        found.crashes += "crashed" in statuses
        found.import_errors += any(e.error and NOT_SUBMITTED not in e.error for e in report.exercises)
        found.with_notes += bool(report.problems)
    return found


def _percent(row: Row) -> float | None:
    _, report, status = row
    score = gradebook.row_score(report, status)
    if score is None:
        return None
    maximum = report.max_score if report is not None else None
    return 100.0 * score / maximum if maximum else 0.0


# ---------------------------------------------------------------- charts (matplotlib, optional)
def _matplotlib() -> object | None:
    """matplotlib's ``Figure`` class, or None when matplotlib is not installed (the ``report`` extra)."""
    try:
        import matplotlib  # noqa: F401  (first: a missing package fails here)
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


class Charts:
    """SVG charts for the page, each a string to inline; ids in each SVG are made distinct by a salt."""

    def __init__(self, figure_class: object) -> None:
        self.figure_class = figure_class
        self.drawn = 0

    def _svg(self, figure: object, label: str) -> str:
        import matplotlib

        self.drawn += 1
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"grade-report-{self.drawn}"}):
            figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
        text = buffer.getvalue()
        text = text[text.index("<svg"):]
        # ids are per document once inlined: give each chart's its own prefix (and the references to them)
        prefix = f"chart{self.drawn}-"
        text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
        text = re.sub(r'(url\(#|href="#)([^")]+)', lambda m: f"{m.group(1)}{prefix}{m.group(2)}", text)
        return text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" class="chart" ', 1)

    def histogram(self, percents: list[float]) -> str:
        figure = self.figure_class(figsize=(7.5, 2.8))
        axes = figure.subplots()
        edges = list(range(0, 101, 10))
        axes.hist([min(max(p, 0.0), 100.0) for p in percents], bins=edges, color="#1565c0", edgecolor="white")
        axes.set_xticks(edges)
        axes.set_xlabel("score (% of the maximum)")
        axes.set_ylabel("submissions")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.spines[["top", "right"]].set_visible(False)
        return self._svg(figure, "histogram of the scores")

    def exercise_means(self, names: list[str], means: list[float], attempted: list[float | None]) -> str:
        figure = self.figure_class(figsize=(7.5, 0.45 * len(names) + 0.9))
        axes = figure.subplots()
        positions = list(range(len(names)))[::-1]
        axes.barh([p + 0.2 for p in positions], means, height=0.38, color="#1565c0", label="all submissions")
        axes.barh([p - 0.2 for p in positions], [a if a is not None else 0 for a in attempted], height=0.38,
                  color="#90caf9", label="those that attempted it")
        axes.set_yticks(positions, names)
        axes.set_xlim(0, 100)
        axes.set_xlabel("mean score (% of the exercise's points, partial credit counted)")
        axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize="small", frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
        return self._svg(figure, "mean score per exercise")

    def items(self, module: str, entries: list[ItemStats]) -> str:
        figure = self.figure_class(figsize=(7.5, 0.28 * len(entries) + 0.8))
        axes = figure.subplots()
        positions = list(range(len(entries)))[::-1]
        left = [0.0] * len(entries)
        for category in CATEGORIES:
            shares = [100.0 * e.counts[category] / max(sum(e.counts.values()), 1) for e in entries]
            axes.barh(positions, shares, left=left, color=COLOURS[category], label=category, height=0.7)
            left = [a + b for a, b in zip(left, shares)]
        axes.set_yticks(positions, [e.name for e in entries])
        axes.set_xlim(0, 100)
        axes.set_ylim(-0.6, len(entries) - 0.4)
        axes.set_xlabel("% of submissions (colours as in the key above)")
        axes.spines[["top", "right"]].set_visible(False)
        return self._svg(figure, f"how the class stands on each item of {module}")


# ---------------------------------------------------------------- the page
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      function key(row) { var cell = row.cells[column]; return cell.getAttribute("data-sort") || cell.textContent; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
document.documentElement.setAttribute("data-sorting", "on");
"""

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 0 24px 48px; color: #212121; }
h1 { font-size: 22px; margin: 24px 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 20px 0 6px; }
nav a { margin-right: 14px; } .meta { color: #616161; } .warning { background: #fff3e0; padding: 8px 12px; }
.hint { background: #e3f2fd; padding: 8px 12px; }
table { border-collapse: collapse; margin: 6px 0 12px; } th, td { padding: 3px 10px; text-align: left;
        border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #fafafa; white-space: nowrap; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; user-select: none; } table.sortable th::after { content: " \\2195"; color: #aaa; }
table.sortable th[aria-sort="ascending"]::after { content: " \\2191"; color: #212121; }
table.sortable th[aria-sort="descending"]::after { content: " \\2193"; color: #212121; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; }
.card { border: 1px solid #e0e0e0; border-radius: 6px; padding: 6px 12px; min-width: 96px; }
.card b { display: block; font-size: 20px; } .card.bad b { color: #c62828; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 6px 0; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.wrong-list { margin: 2px 0 10px 0; padding-left: 20px; } .wrong-list li { margin: 2px 0; }
.count { color: #616161; font-variant-numeric: tabular-nums; }
.code-pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 10px; margin-bottom: 14px; }
.code-pair pre { margin: 0; background: #fafafa; border: 1px solid #e0e0e0; padding: 6px; overflow-x: auto;
                 font-size: 12px; line-height: 1.4; }
.code-pair .who { font-weight: 600; margin-bottom: 2px; overflow-wrap: anywhere; }
pre .shared { background: #fff59d; display: inline-block; min-width: 100%; }
pre .ln { color: #9e9e9e; user-select: none; }
code { overflow-wrap: anywhere; }
"""


def _e(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}%"


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _share(value: float | None, maximum: float) -> float | None:
    """``value`` as a percentage of ``maximum`` (None when there is no value or no maximum)."""
    return None if value is None or not maximum else 100.0 * value / maximum


def _number_cell(value: float | None, text: str) -> str:
    """A right-aligned cell that sorts by ``value`` (a blank one sorts first)."""
    return f"<td class=\"num\" data-sort=\"{value if value is not None else -1}\">{_e(text)}</td>"


def _feedback_href(key: str | None) -> str | None:
    return None if key is None else "feedback/" + urllib.parse.quote(f"{key}.md")


class _Page:
    """Builds the page section by section (each method appends HTML to :attr:`parts`)."""

    def __init__(self, rows: Sequence[Row], summary: dict, keys: dict[str, str], module_names: list[str],
                 max_scores: dict[str, float], similar: SimilarityResult | None, charts: Charts | None) -> None:
        self.rows = sorted(rows, key=lambda row: row[0])
        self.summary = summary
        self.keys = keys
        self.module_names = module_names
        self.max_scores = max_scores
        self.similar = similar
        self.charts = charts
        self.scored = [row for row in self.rows if not gradebook.is_grader_error(row[2])]
        self.stats = item_stats(self.rows)
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def build(self) -> str:
        script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
        policy = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{script_hash}'"
        self.add("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>Class report</title>\n<style>" + STYLE + "</style>\n</head>\n<body>\n")
        self._header()
        self._overview()
        self._exercises()
        self._items()
        self._wrong()
        self._submissions()
        self._similarity()
        self.add("<script>" + SCRIPT + "</script>\n</body>\n</html>\n")
        return "".join(self.parts)

    # ------------------------------------------------------------ sections
    def _header(self) -> None:
        data = self.summary
        self.add("<h1>Class report</h1>\n")
        self.add(f"<p class=\"meta\">{_e(len(self.rows))} submissions; written {_e(gradebook.utc_now())} by "
                 f"pytorch-exercise-kit {_e(grader.__version__)}; modules: {_e(', '.join(self.module_names))}. "
                 "Scores are those of <code>grades.csv</code>.</p>\n")
        if data.get("public_checks_only"):
            self.add(f"<p class=\"warning\">{_e(gradebook.PUBLIC_CHECKS_ONLY)}</p>\n")
        if self.charts is None:
            self.add(f"<p class=\"hint\">{_e(CHART_HINT)}</p>\n")
        self.add("<nav><a href=\"#overview\">Overview</a><a href=\"#exercises\">Exercises</a>"
                 "<a href=\"#items\">Items</a><a href=\"#wrong\">What the class got wrong</a>"
                 "<a href=\"#submissions\">Submissions</a><a href=\"#similarity\">Similarity</a></nav>\n")

    def _overview(self) -> None:
        found = counts(self.rows)
        data = self.summary
        maximum = sum(self.max_scores.values())
        self.add("<h2 id=\"overview\">Overview</h2>\n<div class=\"cards\">\n")
        cards = [("submissions", found.submissions, False), ("graded", found.graded, False),
                 ("mean", f"{data['mean_score']:.1f} / {maximum:g}" if data.get("mean_score") is not None else "-",
                  False),
                 ("median", f"{data['median_score']:.1f}" if data.get("median_score") is not None else "-", False),
                 ("empty", found.empty, False), ("rejected", found.rejected, found.rejected > 0),
                 ("timed out", found.timeouts, found.timeouts > 0), ("crashed", found.crashes, found.crashes > 0),
                 ("import errors", found.import_errors, found.import_errors > 0),
                 ("grader errors", found.grader_errors, found.grader_errors > 0)]
        if data.get("ignored"):
            cards.append(("files ignored (ignored.csv)", data["ignored"], False))
        for label, value, bad in cards:
            self.add(f"<div class=\"card{' bad' if bad else ''}\"><b>{_e(value)}</b>{_e(label)}</div>\n")
        self.add("</div>\n<p class=\"meta\">Timed out, crashed, import errors: submissions with at least one item "
                 "(or module) in that state. Empty and rejected submissions score 0, as in grades.csv; grader "
                 "errors (the grader failed, not the student) are left out of the statistics and graded again by "
                 "<code>--resume</code>.</p>\n")
        percents = [p for row in self.rows if (p := _percent(row)) is not None]
        self.add("<h3>Scores</h3>\n")
        if self.charts is not None and percents:
            self.add(self.charts.histogram(percents))
        bins = Counter(min(int(p // 10), 9) for p in percents)
        self.add("<table><thead><tr><th>score</th>" + "".join(
            f"<th class=\"num\">{10 * b}-{10 * b + 10}%</th>" for b in range(10)) + "</tr></thead><tbody><tr>"
            "<td>submissions</td>" + "".join(f"<td class=\"num\">{bins[b]}</td>" for b in range(10)) +
            "</tr></tbody></table>\n")

    def _exercise_rows(self) -> list[tuple[str, float, float | None, int, float]]:
        """(module, mean %, mean % among those that attempted it, how many attempted it, max points)."""
        out = []
        for module in self.module_names:
            entries = [s for s in self.stats if s.module == module]
            maximum = sum(s.max_score for s in entries) or self.max_scores.get(module, 0.0)
            if not entries or not maximum:
                continue
            totals = [sum(s.scores[i] for s in entries) for i in range(len(entries[0].scores))]
            attempted = [total for i, total in enumerate(totals) if self._attempted(entries, i)]
            mean = _mean(totals)
            mean_attempted = _mean(attempted)
            out.append((module, 100.0 * (mean or 0.0) / maximum,
                        None if mean_attempted is None else 100.0 * mean_attempted / maximum, len(attempted), maximum))
        return out

    def _attempted(self, entries: list[ItemStats], index: int) -> bool:
        """Whether the submission at ``index`` of the scored rows attempted any of ``entries``."""
        _, report, _ = self.scored[index]
        if report is None:
            return False
        wanted = {(s.module, s.name) for s in entries}
        for exercise in report.exercises:
            missing = bool(exercise.error) and NOT_SUBMITTED in exercise.error
            for item in exercise.items:
                if (exercise.name, item.name) in wanted and _category(item.status, missing) in ("passed", "partial",
                                                                                                 "wrong"):
                    return True
        return False

    def _exercises(self) -> None:
        self.add("<h2 id=\"exercises\">Exercises</h2>\n")
        rows = self._exercise_rows()
        if not rows:
            self.add("<p>No submission has a report yet.</p>\n")
            return
        if self.charts is not None:
            self.add(self.charts.exercise_means([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]))
        self.add("<table class=\"sortable\"><thead><tr><th>exercise</th><th class=\"num\">points</th>"
                 "<th class=\"num\">mean (all)</th><th class=\"num\">mean (those that attempted it)</th>"
                 "<th class=\"num\">attempted it</th></tr></thead><tbody>\n")
        for module, mean, attempted_mean, attempted, maximum in rows:
            self.add(f"<tr><td>{_e(module)}</td><td class=\"num\">{_e(_points(maximum))}</td>"
                     f"<td class=\"num\" data-sort=\"{mean:.4f}\">{_pct(mean)}</td>"
                     f"<td class=\"num\" data-sort=\"{attempted_mean if attempted_mean is not None else -1:.4f}\">"
                     f"{_pct(attempted_mean)}</td><td class=\"num\">{attempted}</td></tr>\n")
        self.add("</tbody></table>\n")

    def _items(self) -> None:
        self.add("<h2 id=\"items\">Items</h2>\n<p class=\"meta\">" + " ".join(
            f"<span class=\"swatch\" style=\"background:{COLOURS[c]}\"></span>{_e(c)}" for c in CATEGORIES) +
            ". <b>wrong</b>: attempted, and failed, raised, timed out, crashed or was deleted; <b>unattempted</b>: "
            "still the stub (not_implemented), the module not submitted, or an empty submission; <b>not "
            "graded</b>: a rejected submission, or checks this machine could not run. Means count partial "
            "credit.</p>\n")
        for module in self.module_names:
            entries = [s for s in self.stats if s.module == module]
            if not entries:
                continue
            self.add(f"<h3>{_e(module)}</h3>\n")
            if self.charts is not None:
                self.add(self.charts.items(module, entries))
            self.add("<table class=\"sortable\"><thead><tr><th>item</th><th class=\"num\">points</th>"
                     "<th class=\"num\">mean (all)</th><th class=\"num\">mean (attempted)</th>" + "".join(
                         f"<th class=\"num\">{_e(c)}</th>" for c in CATEGORIES) + "</tr></thead><tbody>\n")
            for entry in entries:
                mean = _share(_mean(entry.scores), entry.max_score)
                attempted = _share(_mean(entry.attempted_scores), entry.max_score)
                self.add(f"<tr><td>{_e(entry.qualified)}</td><td class=\"num\">{_e(_points(entry.max_score))}</td>"
                         f"<td class=\"num\">{_pct(mean)}</td><td class=\"num\" "
                         f"data-sort=\"{attempted if attempted is not None else -1}\">{_pct(attempted)}</td>" +
                         "".join(f"<td class=\"num\">{entry.counts[c]}</td>" for c in CATEGORIES) + "</tr>\n")
            self.add("</tbody></table>\n")

    def _wrong(self) -> None:
        self.add("<h2 id=\"wrong\">What the class got wrong</h2>\n<p class=\"meta\">For each item that some "
                 "submissions attempted and did not pass: the checks they failed most often, and the feedback lines "
                 "they were sent most often, each counted once per submission.</p>\n")
        troubled = [s for s in self.stats if s.checks or s.lines]
        if not troubled:
            self.add("<p>Nothing: every attempted item passed.</p>\n")
            return
        troubled.sort(key=lambda s: -(s.counts["wrong"] + s.counts["partial"]))
        for entry in troubled:
            attempted_wrong = entry.counts["wrong"] + entry.counts["partial"]
            self.add(f"<h3>{_e(entry.qualified)} <span class=\"count\">({attempted_wrong} submissions wrong or "
                     "partial)</span></h3>\n")
            if entry.checks:
                self.add("<div>Failing checks:</div><ul class=\"wrong-list\">\n")
                for check, number in entry.checks.most_common(TOP_LINES):
                    self.add(f"<li><span class=\"count\">{number}&times;</span> <code>{_e(check)}</code></li>\n")
                self.add("</ul>\n")
            if entry.lines:
                self.add("<div>Feedback lines:</div><ul class=\"wrong-list\">\n")
                for line, number in entry.lines.most_common(TOP_LINES):
                    self.add(f"<li><span class=\"count\">{number}&times;</span> {_e(line)}</li>\n")
                self.add("</ul>\n")

    def _submissions(self) -> None:
        self.add("<h2 id=\"submissions\">Submissions</h2>\n<p class=\"meta\">Click a column to sort; a name opens "
                 "the feedback the student is sent.</p>\n")
        self.add("<table class=\"sortable\"><thead><tr><th>submission</th><th class=\"num\">score</th>"
                 "<th class=\"num\">%</th>" + "".join(
                     f"<th class=\"num\">{_e(m.split('_', 1)[0])}</th>" for m in self.module_names) +
                 "<th class=\"num\">passed</th><th class=\"num\">wrong</th><th class=\"num\">unattempted</th>"
                 "<th>status</th></tr></thead><tbody>\n")
        for row in self.rows:
            name, report, status = row
            href = _feedback_href(self.keys.get(name))
            link = f"<a href=\"{_e(href)}\">{_e(name)}</a>" if href else _e(name)
            score = gradebook.row_score(report, status)
            percent = _percent(row)
            per_module = {e.name: e.score for e in report.exercises} if report is not None else {}
            tally: Counter = Counter()
            for exercise in report.exercises if report is not None else []:
                missing = bool(exercise.error) and NOT_SUBMITTED in exercise.error
                tally.update(_category(item.status, missing) for item in exercise.items)
            cells = [f"<td data-sort=\"{_e(name)}\">{link}</td>",
                     _number_cell(score, _points(score) if score is not None else ""),
                     _number_cell(percent, f"{percent:.1f}" if percent is not None else "")]
            for module in self.module_names:
                value = per_module.get(module)
                cells.append(_number_cell(value, _points(value) if value is not None else ""))
            cells += [f"<td class=\"num\">{tally['passed']}</td>",
                      f"<td class=\"num\">{tally['wrong'] + tally['partial']}</td>",
                      f"<td class=\"num\">{tally['unattempted']}</td>", f"<td><code>{_e(status)}</code></td>"]
            self.add("<tr>" + "".join(cells) + "</tr>\n")
        self.add("</tbody></table>\n")

    def _similarity(self) -> None:
        self.add("<h2 id=\"similarity\">Similarity</h2>\n")
        if self.similar is None:
            self.add("<p>Not computed for this batch.</p>\n")
            return
        result = self.similar
        self.add(f"<p>{len(result.pairs)} pair(s) of the {result.submissions} submissions read have near-identical "
                 "code in at least one item, after names, literals, comments, formatting and the stub's own text "
                 "are taken out (winnowed k-gram fingerprints, as MOSS computes them; Schleimer, Wilkerson and Aiken, "
                 "SIGMOD 2003). Short bodies that every correct solution shares are not compared. "
                 "<b>This is for a person to review, not proof of copying</b>: code the exercise dictates (an "
                 "architecture, a recipe) can look alike in independent work. All pairs are in "
                 "<code>similarity.csv</code>.</p>\n")
        for note in result.notes[:50]:
            self.add(f"<p class=\"meta\">{_e(note)}</p>\n")
        if len(result.notes) > 50:
            self.add(f"<p class=\"meta\">... and {len(result.notes) - 50} more notes.</p>\n")
        if not result.pairs:
            return
        self.add("<table class=\"sortable\"><thead><tr><th>submission a</th><th>submission b</th>"
                 "<th class=\"num\">similar items</th><th>items (similarity)</th><th class=\"num\">compared items"
                 "</th><th class=\"num\">overall</th></tr></thead><tbody>\n")
        for pair in result.pairs:
            items = ", ".join(f"{m.item} ({m.similarity:.2f})" for m in pair.matches)
            self.add(f"<tr><td>{_e(pair.a)}</td><td>{_e(pair.b)}</td><td class=\"num\">{len(pair.matches)}</td>"
                     f"<td>{_e(items)}</td><td class=\"num\">{pair.compared}</td>"
                     f"<td class=\"num\">{pair.overall:.2f}</td></tr>\n")
        self.add("</tbody></table>\n")
        for pair in result.pairs[:MAX_PAIRS_SHOWN]:
            self.add(f"<h3>{_e(pair.a)} &harr; {_e(pair.b)} <span class=\"count\">({len(pair.matches)} of "
                     f"{pair.compared} items similar; overall {pair.overall:.2f})</span></h3>\n")
            for match in pair.matches:
                self.add(f"<div><code>{_e(match.item)}</code>: similarity {match.similarity:.2f} "
                         f"({match.shared} shared fingerprints; shared lines highlighted)</div>\n"
                         "<div class=\"code-pair\">\n")
                for who, text, lines in ((pair.a, match.text_a, match.lines_a), (pair.b, match.text_b,
                                                                                  match.lines_b)):
                    self.add(f"<div><div class=\"who\">{_e(who)}</div><pre>")
                    for number, line in text:
                        body = f"<span class=\"ln\">{number:>4} </span>{_e(line)}"
                        self.add(f"<span class=\"shared\">{body}</span>\n" if number in lines else body + "\n")
                    self.add("</pre></div>\n")
                self.add("</div>\n")
        if len(result.pairs) > MAX_PAIRS_SHOWN:
            self.add(f"<p class=\"meta\">The other {len(result.pairs) - MAX_PAIRS_SHOWN} pairs are in "
                     "similarity.csv.</p>\n")


def render(rows: Sequence[Row], summary: dict, keys: dict[str, str], module_names: list[str],
           max_scores: dict[str, float], similar: SimilarityResult | None = None) -> str:
    """The page's HTML. ``rows``: ``(name, report or None, status)`` as in ``grades.csv``; ``summary``: what
    :func:`grader.gradebook.summary` returned; ``keys``: submission name -> its file key (``feedback/<key>.md``)."""
    figure_class = _matplotlib()
    charts = Charts(figure_class) if figure_class is not None else None
    return _Page(rows, summary, keys, module_names, max_scores, similar, charts).build()


def write(out: Path, rows: Sequence[Row], summary: dict, keys: dict[str, str], module_names: list[str],
          max_scores: dict[str, float], similar: SimilarityResult | None = None) -> Path:
    """Write ``OUT/report.html`` (atomically, like the gradebook) and return its path."""
    path = out / REPORT_FILE
    gradebook.write_atomically(path, render(rows, summary, keys, module_names, max_scores, similar))
    return path
