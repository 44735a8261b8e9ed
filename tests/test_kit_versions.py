"""The kit's versions of items, answered by the grader, cannot be turned against it.

A composite item's checks replace the items it calls by stand-ins whose calls the grader answers
(grader/kit_versions.py). Student code can call them with anything, keep them for later, or write
its own frames to the socket: each submission below is the ex02 reference with one item overridden,
and every attack ends as a status of that item while the other items keep their marks.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from grader import catalogue, wire
from grader.engine import load_reference
from grader.kit_versions import KitVersionServer

MODULE = "ex02_gradient_descent"


def _grade(service, modules, folder: Path, override: str) -> dict:
    source = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text(encoding="utf-8")
    (folder / f"{MODULE}.py").write_text(source + "\n\n" + textwrap.dedent(override), encoding="utf-8")
    report = service.grade(folder, catalogue.select([MODULE], modules))
    return {item.name: item for item in report.exercises[0].items}


def _others_passed(items: dict, name: str) -> None:
    others = {n: (i.status, i.feedback) for n, i in items.items() if n != name and i.status != "passed"}
    assert not others, others


def test_a_forged_frame_that_names_a_python_function_is_refused_and_runs_nothing(
        grading_service, modules, tmp_path):
    marker = tmp_path / "pwned"
    items = _grade(grading_service, modules, tmp_path, f"""
        import os, pickle, socket, stat, struct
        class _Run:
            def __reduce__(self):
                return (os.system, ("touch {marker}",))
        def grad_fn(t_u, t_c, t_p, w, b):
            frame = b"KIT1" + pickle.dumps(("kit", "dloss_fn", _Run(), None, None, True))
            for fd in range(3, 64):
                try:
                    if stat.S_ISSOCK(os.fstat(fd).st_mode):
                        os.write(fd, struct.pack("!Q", len(frame)) + frame)
                except OSError:
                    pass
            return dloss_fn(t_p, t_c)
    """)
    assert not marker.exists()
    assert items["grad_fn"].score < items["grad_fn"].max_score
    _others_passed(items, "grad_fn")


def test_a_kit_stand_in_kept_for_later_cannot_answer_outside_the_checks_that_provide_it(
        grading_service, modules, tmp_path):
    # a wrong dloss_fn: grad_fn is then graded with the kit's versions (its stand-ins exist to be kept)
    items = _grade(grading_service, modules, tmp_path, """
        _kept = []
        def dloss_fn(t_p, t_c):
            return t_p - t_c
        def grad_fn(t_u, t_c, t_p, w, b):
            _kept.append(dloss_fn)
            dloss_dtp = dloss_fn(t_p, t_c)
            return torch.stack([(dloss_dtp * dmodel_dw(t_u, w, b)).sum(), (dloss_dtp * dmodel_db(t_u, w, b)).sum()])
        def training_loop(n_epochs, learning_rate, params, t_u, t_c):
            if _kept:
                _kept[0](t_u, t_c)  # the kit's dloss_fn is not one of training_loop's kit items
            return params
    """)
    assert items["grad_fn"].status == "passed", items["grad_fn"].feedback
    loop = items["training_loop"]
    assert loop.score < loop.max_score
    assert any("only available during the checks" in line for line in loop.feedback), loop.feedback


def test_endless_calls_to_the_kit_end_at_the_wall_clock_deadline(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, tmp_path, """
        def grad_fn(t_u, t_c, t_p, w, b):
            while True:
                dloss_fn(t_p, t_c)
    """)
    assert items["grad_fn"].status == "timeout", items["grad_fn"].feedback
    _others_passed(items, "grad_fn")


def test_the_kit_s_error_on_bad_arguments_is_raised_in_the_student_s_code_not_the_grader():
    server = KitVersionServer(load_reference(MODULE), ("dloss_fn",))
    encode = wire.Encoder(opaque=wire.opaque_marker).encode
    answer = server.answer(("kit", "dloss_fn", encode([torch.ones(3), torch.ones(4)]), encode({}),
                            None, True))
    assert answer[0] == "kit_raised"  # no random state known yet: refused, not a crash
    state = [torch.get_rng_state(), torch.zeros(624, dtype=torch.int64), None]
    answer = server.answer(("kit", "dloss_fn", encode([torch.ones(3), torch.ones(4)]), encode({}), state, True))
    assert answer[0] == "kit_raised" and "size" in answer[2]


@pytest.mark.parametrize("request_", [
    ("kit", "load_temperatures", ("list", []), ("dict", []), None, True),
    ("kit", "__import__", ("list", [("str", "os")]), ("dict", []), None, True),
    ("kit_vjp", "dloss_fn", ("list", []), ("dict", []), None, "not a list", []),
    ("nonsense",),
])
def test_requests_for_anything_but_the_check_s_kit_items_are_refused(request_):
    server = KitVersionServer(load_reference(MODULE), ("dloss_fn",))
    assert server.answer(request_)[0] == "kit_raised"


def test_a_fast_frame_rebuilds_only_data_and_refuses_expansion_bombs():
    import pickle

    with pytest.raises(wire.ProtocolError):
        wire.loads_fast(wire.FAST_MAGIC + pickle.dumps(print))
    nested: list = []
    for _ in range(40):
        nested = [nested, nested]
    with pytest.raises(wire.ProtocolError):
        wire.loads_fast(wire.FAST_MAGIC + pickle.dumps(nested))
    with pytest.raises(wire.ProtocolError):
        wire.loads_fast(wire.FAST_MAGIC + pickle.dumps(("__raw__", "float32", [10**9], b"", "cpu", None)))
    with pytest.raises(wire.ProtocolError):  # the older five-part node, or any other length, is no tensor
        wire.loads_fast(wire.FAST_MAGIC + pickle.dumps(("__raw__", "float32", [1], bytes(4), "cpu")))
    values = (torch.arange(6.0).reshape(2, 3), torch.tensor([True, False]), torch.ones(2, dtype=torch.bfloat16))
    back = wire.loads_fast(wire.dumps_fast(values))
    assert all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(values, back))


@pytest.mark.parametrize("shape", [[0, -1], [-1], [2, -3], [2**62, 2**62], [True, 2], [2.0], "2", [1] * 40])
def test_a_fast_frame_with_a_shape_no_tensor_has_is_a_protocol_error_never_the_grader_s_own(shape):
    """A worker's code can write its own frames: numpy once raised ValueError on [0, -1], past the checks."""
    import pickle

    node = ("__raw__", "float32", shape, b"", "cpu", None)
    with pytest.raises(wire.ProtocolError):
        wire.loads_fast(wire.FAST_MAGIC + pickle.dumps(node))


@pytest.mark.parametrize("strides", [[1, 1], [0, 0], [-1, 2], [10**8, 1], [1], "no"])
def test_a_fast_frame_refuses_strides_that_overlap_or_reach_beyond_the_values(strides):
    import pickle

    node = ("__raw__", "float32", [2, 2], bytes(16), "cpu", strides)
    with pytest.raises(wire.ProtocolError):
        wire.loads_fast(wire.FAST_MAGIC + pickle.dumps(node))


def test_a_fast_frame_keeps_a_transposed_clone_s_strides_and_makes_a_slice_contiguous_as_clone_does():
    grid = torch.arange(20.0).reshape(4, 5)
    for value in (grid.t().clone(), grid[:, 1], grid[::2], torch.ones(2, 1, 3).transpose(0, 2).clone()):
        back = wire.loads_fast(wire.dumps_fast(value))
        assert torch.equal(back, value) and back.stride() == value.clone().stride()


def test_a_message_a_fast_frame_cannot_carry_falls_back_to_torch_save_and_still_arrives():
    message = ("ok", {"dict": torch.ones(2)}, [])
    frame = wire.dumps_message(message)
    assert not frame.startswith(wire.FAST_MAGIC)
    back = wire.loads_message(frame, trusted=False)
    assert back[0] == "ok" and torch.equal(back[1]["dict"], torch.ones(2))
    plain = ("ok", ("tensor", torch.ones(2), False, None, False), [])
    assert wire.dumps_message(plain).startswith(wire.FAST_MAGIC)


@pytest.mark.parametrize("device", ["meta", "cuda:99", "no such device", 7, "cpu" * 10])
def test_a_fast_frame_refuses_a_tensor_on_a_device_this_process_cannot_use(device):
    import pickle

    frame = ("__raw__", "float32", [2], torch.ones(2).numpy().tobytes(), device, None)
    with pytest.raises(wire.ProtocolError, match="device"):
        wire.loads_fast(wire.FAST_MAGIC + pickle.dumps(frame))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: the kit's calls carry GPU tensors there")
def test_a_fast_frame_brings_a_gpu_tensor_back_on_the_gpu():
    value = torch.arange(6.0, device="cuda").reshape(2, 3)
    back = wire.loads_fast(wire.dumps_fast((value,)))[0]
    assert back.device == value.device and torch.equal(back, value)


_NOISY_REFERENCE = '''
import random
import torch

def noisy(x):
    return x + torch.rand(1) + random.random()

def plain(x):
    return x * 2
'''


def test_the_kit_s_random_draws_move_the_worker_s_generators_and_the_grader_s_own_come_back_unchanged():
    import random
    import types

    from grader.worker import rng_state, same_rng

    reference = types.ModuleType("noisy_reference")
    exec(_NOISY_REFERENCE, reference.__dict__)  # noqa: S102 - the test's own trusted code
    encode = wire.Encoder(opaque=wire.opaque_marker).encode
    x = torch.zeros(1)
    torch.manual_seed(5)
    random.seed(5)
    worker_start = rng_state()
    expected = [reference.noisy(x), reference.plain(x), reference.noisy(x)]  # as running in the worker would give
    expected_after = rng_state()
    torch.manual_seed(123)
    random.seed(123)
    grader_own = rng_state()

    server = KitVersionServer(reference, ("noisy", "plain"))
    answers = [server.answer(("kit", "noisy", encode([x]), encode({}), worker_start, False)),
               server.answer(("kit", "plain", encode([x]), encode({}), None, False)),  # None: unchanged since
               server.answer(("kit", "noisy", encode([x]), encode({}), None, False))]
    server.finish()

    assert same_rng(rng_state(), grader_own), "the grader's own generators were left moved"
    results = [wire.Decoder().decode(answer[1]) for answer in answers]
    assert all(torch.equal(got, want) for got, want in zip(results, expected))
    assert answers[1][3] is None, "a call that draws nothing must not send a new state"
    assert answers[0][3] is not None and same_rng(answers[2][3], expected_after)
    torch.rand(3)  # the worker's own code draws numbers between calls: the state it sends then wins
    moved = rng_state()
    again = server.answer(("kit", "noisy", encode([x]), encode({}), moved, False))
    server.finish()
    assert same_rng(rng_state(), moved), "finish must bring back the grader's state as it was before the call"
    assert torch.equal(wire.Decoder().decode(again[1]), reference.noisy(x))


# ---------------------------------------------------------------- pieces that passed: the student's own first
def test_a_composite_item_whose_pieces_all_passed_is_graded_without_a_single_kit_call(
        grading_service, modules, tmp_path, monkeypatch):
    from grader import engine

    servers = []

    class CountingServer(KitVersionServer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            servers.append(self)

    monkeypatch.setattr(engine, "KitVersionServer", CountingServer)
    items = _grade(grading_service, modules, tmp_path, "")
    assert {name: item.status for name, item in items.items()} == dict.fromkeys(items, "passed")
    assert servers == [], "grad_fn and training_loop passed with the student's own pieces: no kit call was needed"


def test_a_wrong_loop_whose_pieces_passed_still_fails_and_is_explained_from_the_kit_s_run(
        grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, tmp_path, """
        def training_loop(n_epochs, learning_rate, params, t_u, t_c):
            for _ in range(n_epochs):
                t_p = model(t_u, *params)
                params = params + learning_rate * grad_fn(t_u, t_c, t_p, *params)  # uphill
            return params
    """)
    loop = items["training_loop"]
    assert loop.status == "failed", loop.feedback
    assert loop.score == 0 and any("expected" in line for line in loop.feedback), loop.feedback
    _others_passed(items, "training_loop")


def test_mistakes_that_cancel_out_in_a_piece_and_its_loop_still_cost_the_loop_its_points(
        grading_service, modules, tmp_path):
    """grad_fn returns the gradient negated and training_loop adds it: together they train. grad_fn fails its
    own checks, so training_loop is graded with the kit's grad_fn only, and its uphill step shows."""
    items = _grade(grading_service, modules, tmp_path, """
        def grad_fn(t_u, t_c, t_p, w, b):
            dloss_dtp = dloss_fn(t_p, t_c)
            return -torch.stack([(dloss_dtp * dmodel_dw(t_u, w, b)).sum(), (dloss_dtp * dmodel_db(t_u, w, b)).sum()])
        def training_loop(n_epochs, learning_rate, params, t_u, t_c):
            for _ in range(n_epochs):
                t_p = model(t_u, *params)
                params = params + learning_rate * grad_fn(t_u, t_c, t_p, *params)
            return params
    """)
    assert items["grad_fn"].status == "failed", items["grad_fn"].feedback
    assert items["training_loop"].status == "failed", items["training_loop"].feedback
    others = {n: i.status for n, i in items.items() if n not in ("grad_fn", "training_loop")}
    assert set(others.values()) == {"passed"}, others


def test_a_loop_s_pieces_include_what_its_pieces_call():
    from grader.engine import load_suite, pieces_of

    suite = load_suite(MODULE)
    assert pieces_of(suite, suite.items["training_loop"]) == {"model", "grad_fn", "dloss_fn", "dmodel_dw", "dmodel_db"}
    assert pieces_of(suite, suite.items["grad_fn"]) == {"dloss_fn", "dmodel_dw", "dmodel_db"}
    assert pieces_of(suite, suite.items["model"]) == set()


def test_with_a_wrong_dloss_fn_the_loop_first_runs_the_student_s_pieces_and_only_the_kit_s_dloss_fn(
        grading_service, modules, tmp_path, monkeypatch):
    """grad_fn passed with the kit's dloss_fn; training_loop then runs the student's model and grad_fn, whose
    calls to dloss_fn reach the kit's: one exchange an epoch instead of two, and a pass that only the
    loop's own code could earn."""
    from grader import engine

    names = []

    class RecordingServer(KitVersionServer):
        def __init__(self, reference, kit_names) -> None:
            super().__init__(reference, kit_names)
            names.append(tuple(kit_names))

    monkeypatch.setattr(engine, "KitVersionServer", RecordingServer)
    items = _grade(grading_service, modules, tmp_path, """
        def dloss_fn(t_p, t_c):
            return 2 * (t_p - t_c)  # the mean's / N forgotten
    """)
    assert items["dloss_fn"].status in ("failed", "partial")
    assert items["grad_fn"].status == "passed" and items["training_loop"].status == "passed"
    loop_checks = sum(1 for check in engine.load_suite(MODULE).items["training_loop"].checks)
    assert names.count(("dloss_fn",)) == loop_checks, names
    assert ("model", "grad_fn") not in names
