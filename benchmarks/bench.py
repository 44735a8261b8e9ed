"""Measure the grader: torch start-up, grading the references, and `grade batch` scaling.

Run from the kit's root: ``python benchmarks/bench.py [--submissions 8] [--repeats 3]``.
It prints medians of ``--repeats`` runs and the ratios the README quotes. Nothing here is a test:
the figures depend on the machine and on what else it is doing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROKEN_OVERRIDE = "\n\ndef loss_fn(t_p, t_c):\n    while True:\n        pass\n"


FLOOR = """
import sys, torch
from grader import catalogue
from grader.engine import ReferenceCache, load_suite
cache, device = ReferenceCache(), torch.device("cpu")
for module in catalogue.select(sys.argv[1:], catalogue.load_catalogue()).modules:
    for item in load_suite(module.name).items.values():
        for check in item.checks:
            if check.requires is None:
                cache.expected(check, item, device)
"""


def timed(command: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


def median_of(repeats: int, command: list[str]) -> tuple[float, list[float]]:
    runs = [timed(command) for _ in range(repeats)]
    return statistics.median(runs), runs


def make_submissions(folder: Path, count: int, kind: str) -> None:
    """``count`` submissions: ``mixed`` cycles reference copy, stub copy, broken copy; ``stub`` only stubs;
    ``edited`` stubs with a comment added to every module (each module then needs a box of its own:
    an untouched stub's result is remembered by its exact bytes)."""
    for index in range(count):
        target = folder / f"student{index:03d}"
        target.mkdir(parents=True)
        choice = kind if kind in ("stub", "edited") else ("reference", "stub", "broken")[index % 3]
        source = ROOT / ("exercises" if choice in ("stub", "edited") else "solutions")
        for module in sorted(source.glob("ex*.py")):
            shutil.copy(module, target / module.name)
            if choice == "edited":
                (target / module.name).write_text(module.read_text() + f"\n# student {index}\n")
        if choice == "broken":
            module = target / "ex02_gradient_descent.py"
            module.write_text(module.read_text() + BROKEN_OVERRIDE)


def batch_seconds(count: int, kind: str, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as temporary:
        submissions = Path(temporary) / "in"
        make_submissions(submissions, count, kind)
        return timed(["grade", "batch", str(submissions), "--out", str(Path(temporary) / "out"),
                      "--jobs", str(jobs)])


def watch_latencies(saves: int) -> list[float]:
    """Seconds from saving ex02 to `grade watch` printing its regrade, after the first run."""
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        module = folder / "ex02_gradient_descent.py"
        reference = (ROOT / "solutions" / module.name).read_text()
        variants = [reference.replace("/ t_p.size(0)", ""), reference]
        module.write_text(reference)
        process = subprocess.Popen(["grade", "watch", "ex02", "--submission", str(folder)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        try:
            for line in process.stdout:
                if line.startswith("Graded "):
                    break
            latencies = []
            for index in range(saves):
                time.sleep(0.3)
                started = time.perf_counter()
                module.write_text(variants[index % 2])
                for line in process.stdout:
                    if line.startswith("Graded "):
                        latencies.append(time.perf_counter() - started)
                        break
            return latencies
        finally:
            process.terminate()
            process.wait()


@contextlib.contextmanager
def cpu_burners(count: int) -> Iterator[None]:
    """``count`` processes that each keep one core busy (a student's machine doing other work)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-batch", action="store_true")
    options = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    tier = json.loads(subprocess.run(["grade", "check", "ex01.reshaped", "--json"], capture_output=True, text=True,
                                     check=True).stdout)["isolation"]
    print(f"machine: {cores} cores, python {sys.version.split()[0]}, isolation tier: {tier}")

    torch_import, runs = median_of(options.repeats, [sys.executable, "-c", "import torch"])
    print(f"torch import in a fresh process: median {torch_import:.2f} s  (runs {[round(r, 2) for r in runs]})")

    floor, runs = median_of(options.repeats, [sys.executable, "-c", FLOOR])
    print(f"floor (import torch + every check once, in one process, on the reference): median {floor:.2f} s "
          f"(runs {[round(r, 2) for r in runs]})")
    floor_ex02, runs = median_of(options.repeats, [sys.executable, "-c", FLOOR, "ex02"])
    print(f"floor of ex02: median {floor_ex02:.2f} s (runs {[round(r, 2) for r in runs]})")

    with tempfile.TemporaryDirectory() as store:
        os.environ["GRADE_CACHE_DIR"] = store  # a store of its own: the first run fills it (cold), the rest read it
        solutions = ["grade", "check", "--submission", str(ROOT / "solutions"), "--json"]
        cold = timed(solutions)
        reference, runs = median_of(options.repeats, solutions)
        print(f"grade check --submission solutions (all modules): first run {cold:.2f} s; then median "
              f"{reference:.2f} s (runs {[round(r, 2) for r in runs]}): {reference / floor:.2f}x the floor")
        ex02, runs = median_of(options.repeats, [*solutions[:2], "ex02", *solutions[2:]])
        print(f"grade check ex02 --submission solutions: median {ex02:.2f} s (runs {[round(r, 2) for r in runs]}): "
              f"{ex02 / floor_ex02:.2f}x the floor of ex02")

    stubs, runs = median_of(options.repeats, ["grade", "check", "--submission", str(ROOT / "exercises"), "--json"])
    print(f"grade check on the untouched stubs: median {stubs:.2f} s (runs {[round(r, 2) for r in runs]})")

    latencies = watch_latencies(5)
    print(f"grade watch ex02, save to regraded: median {statistics.median(latencies):.2f} s "
          f"(runs {[round(r, 2) for r in latencies]})")
    with cpu_burners(2):
        latencies = watch_latencies(5)
    print(f"grade watch ex02 with two CPU burners running: median {statistics.median(latencies):.2f} s "
          f"(runs {[round(r, 2) for r in latencies]}; goal under 1 s)")

    if options.skip_batch:
        return
    n = options.submissions
    for kind in ("stub", "edited", "mixed"):
        per_submission = {}
        for jobs in (1, cores):
            fixed = batch_seconds(jobs, "stub", jobs)
            total = batch_seconds(n, kind, jobs)
            per_submission[jobs] = (total - fixed) / (n - jobs)
            print(f"grade batch --jobs {jobs}, {n} {kind} submissions: {total:.1f} s in all; start-up (a batch of "
                  f"{jobs} stub(s)) {fixed:.1f} s; {per_submission[jobs]:.2f} s per further submission")
        print(f"  {kind}: speed-up of --jobs {cores} over --jobs 1 per submission: "
              f"{per_submission[1] / per_submission[cores]:.2f}x")


if __name__ == "__main__":
    main()
