"""Reference results are computed once and read back from disk by later runs; any change to what they depend on
makes a new key, and an unreadable file only costs the speed-up."""

from __future__ import annotations

import shutil

import pytest
import torch

from grader import catalogue, reference_store
from grader.engine import ReferenceCache, load_suite
from grader.reference_store import ReferenceStore

MODULE = "ex03_autograd"
CPU = torch.device("cpu")


def checks_of(module: str) -> list:
    suite = load_suite(module)
    return [(check, item) for item in suite.items.values() for check in item.checks if check.requires is None]


def fill(cache: ReferenceCache) -> dict[str, object]:
    return {check.qualified_name: cache.expected(check, item, CPU) for check, item in checks_of(MODULE)}


def test_a_second_run_reads_every_result_from_the_store_without_running_the_reference(tmp_path, monkeypatch):
    store = ReferenceStore(tmp_path / "cache")
    first = ReferenceCache(store=store)
    computed = fill(first)
    first.save()
    assert len(list((tmp_path / "cache").glob(f"{MODULE}-cpu-*.pt"))) == 1

    def no_reference(*args, **kwargs):
        raise AssertionError("the reference ran although its results were stored")

    monkeypatch.setattr(ReferenceCache, "_run", staticmethod(no_reference))
    again = fill(ReferenceCache(store=ReferenceStore(tmp_path / "cache")))
    assert again.keys() == computed.keys()
    for name, value in computed.items():
        assert repr(again[name]) == repr(value), name


def test_a_changed_solution_makes_a_new_key_and_the_old_file_is_removed(tmp_path, monkeypatch):
    store = ReferenceStore(tmp_path / "cache")
    before = reference_store.module_key(MODULE, CPU)
    cache = ReferenceCache(store=store)
    fill(cache)
    cache.save()
    solutions = tmp_path / "solutions"
    shutil.copytree(catalogue.SOLUTIONS_DIR, solutions)
    with open(solutions / f"{MODULE}.py", "a", encoding="utf-8") as source:
        source.write("\n# edited\n")
    monkeypatch.setattr(catalogue, "SOLUTIONS_DIR", solutions)
    after = reference_store.module_key(MODULE, CPU)
    assert after != before
    assert reference_store.module_key(MODULE, torch.device("cuda")) != before  # the device is part of the key
    fresh = ReferenceStore(tmp_path / "cache")
    assert fresh.load(MODULE, CPU) == {}, "results made by another reference are not read"
    fresh.save(MODULE, CPU, {"x": 1.0})
    assert [p.name for p in (tmp_path / "cache").glob(f"{MODULE}-cpu-*.pt")] == [f"{MODULE}-cpu-{after}.pt"]


def test_an_unreadable_store_file_is_ignored_and_written_again(tmp_path):
    store = ReferenceStore(tmp_path / "cache")
    cache = ReferenceCache(store=store)
    expected = fill(cache)
    cache.save()
    (path,) = (tmp_path / "cache").glob(f"{MODULE}-cpu-*.pt")
    path.write_bytes(b"not a torch file")
    again = ReferenceCache(store=ReferenceStore(tmp_path / "cache"))
    assert repr(fill(again)) == repr(expected)
    again.save()
    assert ReferenceStore(tmp_path / "cache").load(MODULE, CPU).keys() >= expected.keys()


def test_a_store_that_cannot_be_written_never_fails_grading(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    cache = ReferenceCache(store=ReferenceStore(blocker / "cache"))
    assert fill(cache)
    cache.save()


@pytest.mark.parametrize(("value", "folder"), [("off", None), ("/tmp/elsewhere", "/tmp/elsewhere")])
def test_the_store_folder_follows_grade_cache_dir(monkeypatch, value, folder):
    monkeypatch.setenv(reference_store.CACHE_ENV, value)
    chosen = reference_store.default_folder()
    assert (None if chosen is None else str(chosen)) == folder


def test_without_a_store_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = ReferenceCache()
    fill(cache)
    cache.save()
    assert list(tmp_path.iterdir()) == []
