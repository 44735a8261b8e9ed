"""Nothing a submission sends can stop, hang or crash the grader.

A hostile worker can write any bytes to its socket: frames that trickle in or announce gigabytes,
tensors that cost four bytes on the wire and gigabytes once copied, sparse / quantized / nested /
meta tensors, numbers that do not fit in a float. Each must end as a deadline, a refusal or a
failure sentence for the student, never as an exception, a hang or a huge allocation in the grader.
"""

from __future__ import annotations

import math
import resource
import socket
import struct
import threading
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from grader import compare, wire
from grader.compare import describe_type, difference, normalize
from grader.remote import WorkerCrashed, WorkerSession, WorkerTimeout

HEADER = struct.Struct("!Q")
GIB = 2**30


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    grader_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    yield grader_end, worker_end
    grader_end.close()
    worker_end.close()


def _in_background(work) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _trickle(sock: socket.socket, announced: int, stop: threading.Event, every: float = 0.2) -> None:
    """Announce a frame of ``announced`` bytes, then send one byte every ``every`` seconds."""
    try:
        sock.sendall(HEADER.pack(announced))
        while not stop.wait(every):
            sock.sendall(b"x")
    except OSError:
        pass


def _max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _through_the_grader(node: tuple) -> object:
    """What a worker's answer ``("ok", node)`` becomes in the grader: read, decoded and normalised."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reply = wire.loads_untrusted(wire.dumps(("ok", node)))
        return normalize(wire.Decoder().decode(reply[1]))


def _tensor_node(value: torch.Tensor, grad: torch.Tensor | None = None) -> tuple:
    return ("tensor", value, grad is not None, grad, False)


# ---------------------------------------------------------------- frames
def test_a_frame_that_trickles_in_times_out_at_the_deadline(pair):
    grader_end, worker_end = pair
    stop = threading.Event()
    _in_background(lambda: _trickle(worker_end, 2**20, stop))
    start = time.monotonic()
    try:
        with pytest.raises(wire.FrameTimeout):
            wire.recv_frame_until(grader_end, start + 1.0, wire.MAX_MESSAGE_BYTES)
    finally:
        stop.set()
    assert time.monotonic() - start < 3.0


def test_a_frame_that_never_starts_times_out_at_the_deadline(pair):
    grader_end, _ = pair
    start = time.monotonic()
    with pytest.raises(wire.FrameTimeout):
        wire.recv_frame_until(grader_end, start + 0.5)
    assert time.monotonic() - start < 3.0


def test_a_frame_over_the_maximum_is_refused_before_its_payload_is_read(pair):
    grader_end, worker_end = pair
    worker_end.sendall(HEADER.pack(wire.MAX_MESSAGE_BYTES + 1) + b"payload")
    with pytest.raises(wire.FrameTooLarge, match="over the limit"):
        wire.recv_frame_until(grader_end, time.monotonic() + 5, wire.MAX_MESSAGE_BYTES)
    assert grader_end.recv(100) == b"payload"


def test_the_grader_accepts_at_most_64_mib_in_one_frame():
    assert wire.MAX_MESSAGE_BYTES == 64 * 2**20


def test_a_whole_frame_larger_than_the_socket_buffer_arrives_before_the_deadline(pair):
    grader_end, worker_end = pair
    payload = bytes(range(256)) * 12_000  # about 3 MiB: the writer must wait for the reader
    _in_background(lambda: wire.send_bytes(worker_end, payload))
    assert wire.recv_frame_until(grader_end, time.monotonic() + 10) == payload


def test_a_connection_closed_in_the_middle_of_a_frame_is_an_end_of_file(pair):
    grader_end, worker_end = pair
    worker_end.sendall(HEADER.pack(100) + b"abc")
    worker_end.close()
    with pytest.raises(EOFError):
        wire.recv_frame_until(grader_end, time.monotonic() + 5)


def test_the_worker_still_reads_frames_without_a_deadline(pair):
    grader_end, worker_end = pair
    wire.send_bytes(grader_end, b"request")
    assert wire.recv_frame(worker_end) == b"request"


class FakeZygote:
    """Stands for the zygote: records what it was asked, kills nothing."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def ask(self, request: dict, fds: tuple = (), timeout: float | None = None) -> dict:
        self.asked.append(request["op"])
        return {"op": request["op"], "status": "killed by the grader", "kind": "crashed"}


def _session_talking_to(grader_end: socket.socket) -> WorkerSession:
    """A session whose worker is the other end of a socketpair, driven by the test."""
    session = WorkerSession(FakeZygote(), "stage")
    session.sock, session.pid = grader_end, 999_999
    return session


def test_a_worker_that_trickles_its_answer_is_stopped_at_the_check_deadline(pair):
    grader_end, worker_end = pair
    session = _session_talking_to(grader_end)
    stop = threading.Event()

    def hostile_worker() -> None:
        wire.recv_frame(worker_end)
        _trickle(worker_end, 32 * 2**20, stop, every=0.5)

    _in_background(hostile_worker)
    start = time.monotonic()
    try:
        with pytest.raises(WorkerTimeout):
            session.request(("seed", 0), start + 1.0)
    finally:
        stop.set()
    assert time.monotonic() - start < 3.0
    assert session.restarts == 1 and session.sock is None
    assert "kill" in session.zygote.asked


def test_a_worker_that_announces_a_huge_answer_is_stopped_with_a_clear_reason(pair):
    grader_end, worker_end = pair
    session = _session_talking_to(grader_end)

    def hostile_worker() -> None:
        wire.recv_frame(worker_end)
        worker_end.sendall(HEADER.pack(2**40))

    _in_background(hostile_worker)
    with pytest.raises(WorkerCrashed, match=f"over the limit of {wire.MAX_MESSAGE_BYTES} bytes"):
        session.request(("seed", 0), time.monotonic() + 5)
    assert session.restarts == 1


def test_an_honest_answer_still_comes_back_through_the_session(pair):
    grader_end, worker_end = pair
    session = _session_talking_to(grader_end)

    def honest_worker() -> None:
        wire.recv_frame(worker_end)
        wire.send_bytes(worker_end, wire.dumps(("ok", ("int", 3))))

    _in_background(honest_worker)
    assert session.request(("seed", 0), time.monotonic() + 5) == ("ok", ("int", 3))
    assert session.restarts == 0


# ---------------------------------------------------------------- tensors
ODD_TENSORS = {
    "sparse COO": (lambda: torch.eye(3).to_sparse(), "sparse_coo tensor"),
    "sparse CSR": (lambda: torch.eye(3).to_sparse_csr(), "sparse_csr tensor"),
    "quantized": (lambda: torch.quantize_per_tensor(torch.ones(3), 0.1, 0, torch.quint8), "quantized tensor"),
    "strided nested": (lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]), "nested tensor"),
    "jagged nested": (lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)], layout=torch.jagged),
                      "nested tensor"),
    "meta": (lambda: torch.empty(3, device="meta"), "meta device"),
    "float8": (lambda: torch.ones(3).to(torch.float8_e4m3fn), "dtype float8_e4m3fn"),
    "Parameter": (lambda: torch.nn.Parameter(torch.ones(3)), "plain tensors"),
}


@pytest.mark.parametrize("kind", list(ODD_TENSORS))
def test_an_odd_tensor_becomes_a_failure_that_says_what_it_is(kind):
    build, words = ODD_TENSORS[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = build()
    got = _through_the_grader(_tensor_node(value))
    assert isinstance(got, wire.Opaque) and got.refused
    found = difference(normalize(torch.ones(3)), got)
    assert found is not None and found.startswith("the result: expected a tensor of shape (3,), got a")
    assert words in found


def test_an_unreadable_message_is_a_protocol_error_that_says_what_to_return():
    with pytest.raises(wire.ProtocolError, match="return plain dense tensors"):
        wire.loads_untrusted(b"not a torch.save archive")


def test_a_stride_zero_tensor_of_805m_elements_is_refused_without_allocating_it():
    huge = torch.zeros(1).expand(805_000_000)
    before = _max_rss_bytes()
    got = _through_the_grader(_tensor_node(huge))
    found = difference(normalize(torch.ones(3)), got)
    assert _max_rss_bytes() - before < GIB
    assert found is not None and "805000000 elements" in found and str(wire.MAX_TENSOR_ELEMENTS) in found


def test_a_huge_stride_trick_as_a_gradient_or_an_array_is_refused_too():
    huge = torch.zeros(1).expand(805_000_000)
    before = _max_rss_bytes()
    with_grad = _through_the_grader(_tensor_node(torch.ones(3), grad=huge))
    array = _through_the_grader(("ndarray", huge))
    assert _max_rss_bytes() - before < GIB
    assert "whose .grad is a tensor of 805000000 elements" in describe_type(with_grad)
    assert "NumPy array" in describe_type(array) and difference(np.ones(3), array) is not None


def test_many_views_of_one_storage_cannot_add_up_to_gigabytes():
    view = torch.zeros(1).expand(wire.MAX_TENSOR_ELEMENTS)  # 64 MiB once copied, 4 bytes on the wire
    before = _max_rss_bytes()
    got = _through_the_grader(("list", [_tensor_node(view) for _ in range(40)]))
    assert _max_rss_bytes() - before < GIB
    assert any(isinstance(item, wire.Opaque) and item.refused for item in got)
    assert difference([normalize(torch.zeros(3))] * 40, got) is not None


def test_a_small_overlapping_tensor_is_accepted_and_compares_by_value():
    got = _through_the_grader(_tensor_node(torch.tensor([2.0]).expand(3, 4)))
    assert type(got) is torch.Tensor and got.is_contiguous()
    assert difference(torch.full((3, 4), 2.0), got) is None


def test_a_refused_tensor_sent_back_into_an_argument_is_a_protocol_error_that_says_why():
    huge = torch.zeros(1).expand(805_000_000)
    with pytest.raises(wire.ProtocolError, match="the worker sent a tensor of 805000000 elements"):
        wire.decode_tensor(_tensor_node(huge)[1:])


def test_using_a_refused_value_like_a_tensor_says_what_it_was():
    got = _through_the_grader(_tensor_node(torch.eye(3).to_sparse()))
    with pytest.raises(AttributeError, match="sparse_coo tensor"):
        _ = got.shape


def test_an_honest_float32_tensor_still_round_trips_and_compares_equal():
    honest = torch.randn(1000, 100, generator=torch.Generator().manual_seed(0))
    got = _through_the_grader(_tensor_node(honest.clone().requires_grad_(True), grad=torch.ones(1000, 100)))
    assert type(got) is torch.Tensor and got.dtype == torch.float32 and torch.equal(got.detach(), honest)
    assert got.requires_grad and torch.equal(got.grad, torch.ones(1000, 100))
    assert difference(normalize(honest), got) is None


def test_a_malformed_numpy_scalar_or_size_is_a_protocol_error_not_a_crash():
    for node in [("npscalar", "i1", 10**30), ("npscalar", "f8", 1j), ("size", [10**30]), ("npscalar", "(", 1)]:
        with pytest.raises(wire.ProtocolError):
            wire.Decoder().decode(node)


# ---------------------------------------------------------------- numbers
NUMBER_CASES = [
    (2.5, 10**400, "expected 2.5, got an int of 401 digits"),
    (2.5, 10**5000, "expected 2.5, got an int of 5001 digits"),
    (2.5, -(10**5000), "got a negative int of 5001 digits"),
    (10**5000, 10**5000 + 1, "expected an int of 5001 digits, got a different int of 5001 digits"),
    (10**5000, 2.5, "expected an int of 5001 digits, got the float 2.5"),
    (1.0, float("inf"), "expected 1, got inf"),
    (1.0, float("nan"), "expected 1, got nan"),
    (float("inf"), 10**400, "expected inf, got an int of 401 digits"),
    (3, True, "expected the integer 3, got the bool True"),
    (True, 1, "expected the bool True, got the int 1"),
    (2.5, np.complex128(1 + 2j), "expected a Python float (2.5), got the complex128"),
    (np.complex128(1 + 2j), np.complex128(1 + 3j), "expected np.complex128(1+2j)"),
    ("short", "y" * 10**6, "got the str 'yyyy"),
]


@pytest.mark.parametrize(("expected", "got", "words"), NUMBER_CASES, ids=[case[2] for case in NUMBER_CASES])
def test_a_number_of_any_size_is_compared_without_an_exception(expected, got, words):
    found = difference(expected, got)
    assert found is not None and words in found
    assert len(found) < 300


@pytest.mark.parametrize(("expected", "got"), [
    (10**5000, 10**5000),
    (float("nan"), float("nan")),
    (float("inf"), float("inf")),
    (2.5, np.float32(2.5)),
    (7, np.int64(7)),
    (np.uint64(2**64 - 1), 2**64 - 1),
], ids=["huge ints", "nan", "inf", "numpy float32", "numpy int64", "numpy uint64"])
def test_equal_numbers_of_any_kind_match(expected, got):
    assert difference(expected, got) is None


# ---------------------------------------------------------------- tensors compared
@pytest.mark.parametrize(("expected", "got", "words"), [
    (torch.ones(3), torch.ones(3, dtype=torch.bool), "expected dtype torch.float32, got torch.bool"),
    (torch.ones(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool), "expected True, got False"),
    (torch.tensor([1 + 1j, 2 + 2j]), torch.tensor([1 + 1j, 2 + 3j]), "worst at index (1,): expected (2+2j)"),
    (torch.tensor([2**63 - 1]), torch.tensor([-(2**63)]), "expected 9223372036854775807"),
    (torch.ones(3, dtype=torch.uint16), torch.zeros(3, dtype=torch.uint16), "3 of 3 elements differ"),
    (torch.ones(3, dtype=torch.uint64), torch.zeros(3, dtype=torch.uint64), "3 of 3 elements differ"),
    (torch.ones(3, dtype=torch.float16), torch.zeros(3, dtype=torch.float16), "expected 1, got 0"),
    (torch.tensor(1.0), torch.tensor(2.0), "expected 1, got 2"),
    (torch.full((2, 2), math.nan), torch.ones(2, 2), "4 of 4 elements differ"),
    (torch.tensor([1.0, math.inf]), torch.tensor([1.0, 5.0]), "worst at index (1,): expected inf, got 5"),
    (torch.tensor([-1e308, 1.0], dtype=torch.float64), torch.tensor([1e308, 1.0], dtype=torch.float64),
     "1 of 2 elements differ"),
])
def test_tensors_of_any_dtype_are_compared_with_words(expected, got, words):
    found = difference(expected, got)
    assert found is not None and words in found, found


def test_empty_tensors_and_nan_everywhere_match_themselves():
    assert difference(torch.ones(0, 3), torch.ones(0, 3)) is None
    assert difference(torch.full((4,), math.nan), torch.full((4,), math.nan)) is None
    assert difference(torch.tensor([math.inf, -math.inf]), torch.tensor([math.inf, -math.inf])) is None


_CLOSE_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
                 torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64, torch.bool]


@pytest.mark.parametrize("dtype", _CLOSE_DTYPES, ids=str)
def test_tensors_are_judged_close_exactly_as_assert_close_judges_them(dtype):
    """compare._close skips assert_close (whose first call imports torch.distributed, 0.6 s) for plain
    tensors; it must agree with it on every pair: near, far, NaN, infinities, conjugate and negative views."""
    generator = torch.Generator().manual_seed(7)
    specials = torch.tensor([0.0, -0.0, 1.0, -1.0, math.nan, math.inf, -math.inf, 1e-9, 3.5, 1e30])
    pairs = []
    for _ in range(60):
        base = torch.randn(5, generator=generator) * 10
        noise = torch.randn(5, generator=generator) * torch.tensor(10.0) ** torch.randint(-9, 1, (1,), generator=generator)
        pairs.append((base, base + noise))
        picks = torch.randint(0, len(specials), (2, 5), generator=generator)
        pairs.append((specials[picks[0]], specials[picks[1]]))
        pairs.append((specials[picks[0]], specials[picks[0]]))
    for rtol, atol in [(0.0, 0.0), (1.3e-6, 1e-5), (1e-3, 1e-2)]:
        for want, have in pairs:
            if dtype.is_complex:
                want, have = torch.complex(want, have), torch.complex(have, want)
            want, have = want.to(dtype) if dtype.is_floating_point or dtype.is_complex else _as_int(want, dtype), \
                have.to(dtype) if dtype.is_floating_point or dtype.is_complex else _as_int(have, dtype)
            for a, b in [(want, have), (want, want.clone()), (_flipped(want), _flipped(have))]:
                assert compare._close(a, b, rtol, atol) == _assert_close_says(a, b, rtol, atol), (a, b, rtol, atol)


def _flipped(values: torch.Tensor) -> torch.Tensor:
    """A conjugate view of a complex tensor, a negative view of a signed one (both lazy), else its inverse."""
    if values.is_complex():
        return values.conj()
    return ~values if values.dtype == torch.bool else -values


def _as_int(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    finite = torch.nan_to_num(values, nan=0.0, posinf=100.0, neginf=-100.0).clamp(-100, 100)
    return finite.round().to(dtype) if dtype != torch.bool else finite > 0


def _assert_close_says(expected: torch.Tensor, got: torch.Tensor, rtol: float, atol: float) -> bool:
    try:
        torch.testing.assert_close(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        return True
    except AssertionError:
        return False


def test_sparse_and_quantized_tensors_are_still_compared():
    sparse = torch.eye(3).to_sparse()
    assert compare._close(sparse, torch.eye(3).to_sparse(), 1e-5, 1e-8)
    assert not compare._close(sparse, (2 * torch.eye(3)).to_sparse(), 1e-5, 1e-8)
    quantized = torch.quantize_per_tensor(torch.ones(4), 0.1, 0, torch.quint8)
    assert compare._close(quantized, torch.quantize_per_tensor(torch.ones(4), 0.1, 0, torch.quint8), 0.0, 0.0)
    assert not compare._close(quantized, torch.quantize_per_tensor(torch.zeros(4), 0.1, 0, torch.quint8), 0.0, 0.0)


@pytest.mark.parametrize(("expected", "got"), [
    (torch.ones(3), torch.ones(3, dtype=torch.bool)),
    (torch.ones(3, dtype=torch.complex64), torch.ones(3)),
    (torch.ones(3, dtype=torch.int64), torch.ones(3, dtype=torch.uint8)),
    (torch.eye(3).to_sparse(), torch.zeros(3, 3)),
    (torch.ones(0), torch.ones(0)),
    (torch.ones(2), torch.ones(3)),
])
def test_the_worst_element_is_described_even_for_mismatching_tensors(expected, got):
    assert isinstance(compare._worst_element(expected, got, 1e-5, 1e-8), str)


# ---------------------------------------------------------------- descriptions
def test_a_dict_with_unorderable_keys_is_described_and_compared():
    described = describe_type({1: "a", "b": 2, (3,): None, 10**5000: 0})
    assert "an int of 5001 digits" in described
    found = difference({1: 1, "a": 2}, {1: 1, (2,): 3, 10**400: 4})
    assert found is not None and "missing keys ['a']" in found and "an int of 401 digits" in found


def test_a_very_long_list_or_dict_is_described_briefly():
    assert describe_type(list(range(200_000))) == "a list of 200000 items"
    assert len(describe_type({i: i for i in range(200_000)})) < 200


def test_a_value_nothing_foresaw_is_a_failure_never_an_exception():
    class Hostile:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("boom")

        def __ne__(self, other: object) -> bool:
            raise RuntimeError("boom")

        def __repr__(self) -> str:
            raise RuntimeError("boom")

    found = difference(Hostile(), Hostile())
    assert found == "the result: the result could not be compared: RuntimeError"
    assert "Hostile" in describe_type(Hostile())
