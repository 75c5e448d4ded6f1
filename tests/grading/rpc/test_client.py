"""The grader's end of the RPC against real workers: values, errors, faults, output, handles."""

from __future__ import annotations

import copy
import gc
import pickle
import re
import time
from dataclasses import replace

import numpy as np
import pytest

from grading.rpc import client as client_module
from grading.rpc.budget import TimeBudget
from grading.rpc.client import TRANSCRIPT_CHARS, WorkerClient
from grading.rpc.errors import (
    CallTimeout,
    ProtocolError,
    RemoteAttributeError,
    SandboxError,
    StudentError,
    WorkerDied,
)
from grading.rpc.proxy import RemoteObject, kept_beside
from grading.rpc.wire import WireError
from grading.sandbox.launcher import DRAIN_NOTE_ROOM, SandboxSpec, bwrap_works
from grading.sandbox.limits import SandboxLimits

LEVELS = ["process", pytest.param("bwrap", marks=pytest.mark.skipif(
    not bwrap_works(), reason="bubblewrap is missing or cannot create namespaces here"))]

STUDENT = b'''
import os
import sys
import time

import numpy as np

released = []


class Model:
    """A student's object: it stays in the sandbox."""

    def __init__(self, k):
        self.k = k
        self.means = np.arange(k, dtype=np.float32)

    def scale(self, x):
        return x * self.k

    def __eq__(self, other):
        return True  # lies

    def __hash__(self):
        return 0

    def __bool__(self):
        return False

    def __len__(self):
        return 0

    def __getitem__(self, i):
        return i * 10


class Tracked:
    def __del__(self):
        released.append(1)


def identity(x):
    return x


def same(a, b):
    return a is b


def fail(kind="value"):
    if kind == "nie":
        raise NotImplementedError("fixture: fail")
    raise ValueError("bad value " + kind)


def talk(text, err=""):
    print(text)
    if err:
        print(err, file=sys.stderr)
    return len(text)


def talk_then_spin(text):
    print(text)
    while True:
        pass


def fd_write(data, fd=1):
    os.write(fd, data)
    return len(data)


def add_one_in_place(x):
    x += 1
    return x


def hijack_stdout():
    sys.stdout = open(os.devnull, "w")


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def spin():
    while True:
        pass


def spin_for(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def crash(code):
    os.write(2, b"last words\\n")
    os._exit(code)


def attr_fail():
    return None.nope


def die_by(signum):
    os.kill(os.getpid(), signum)


def make_tracked(n):
    return [Tracked() for _ in range(n)]


def evil_object():
    class Evil:
        def __getattr__(self, name):
            raise SystemExit(4)

        @property
        def __class__(self):
            raise KeyboardInterrupt

        def __del__(self):
            raise RuntimeError("__del__ fails")

    return Evil()


def forge(kind):
    """Make the worker answer the next request with a message of the given (bad) shape."""
    main = sys.modules["__main__"]
    honest = main.Worker.handle

    def handle(self, request):
        rid = request["id"]
        main.Worker.handle = honest
        return {
            "not_a_dict": lambda: [rid],
            "stale_id": lambda: {"id": rid + 1, "ok": True, "value": 1},
            "id_array": lambda: {"id": np.array([rid, rid]), "ok": True, "value": 1},
            "ok_array": lambda: {"id": rid, "ok": np.array([1, 1]), "value": 1},
            "ok_text": lambda: {"id": rid, "ok": "yes", "value": 1},
            "error_text": lambda: {"id": rid, "ok": False, "error": "boom"},
            "error_fields": lambda: {"id": rid, "ok": False, "error": {"type": ["x"]}},
        }[kind]()

    main.Worker.handle = handle


def forge_huge_error():
    main = sys.modules["__main__"]

    def handle(self, request):
        return {"id": request["id"], "ok": False,
                "error": {"type": "T" * 100_000, "message": "m" * 1_000_000,
                          "traceback": "t" * 1_000_000}}

    main.Worker.handle = handle


def garble():
    """Make the worker write bytes that are not a message instead of its next answer."""
    main = sys.modules["__main__"]
    main.write_message = lambda stream, *a, **k: stream.write(b"\\x00garbage" * 8)


def stop_reading():
    """Make the worker stop reading requests (as a student's __del__ stuck in GC would)."""
    main = sys.modules["__main__"]
    main.read_message = lambda *a, **k: time.sleep(3600)
'''


def start(level: str, **limits) -> tuple[WorkerClient, RemoteObject]:
    spec = SandboxSpec(isolation=level, preload=(),
                       limits=replace(SandboxLimits(), **limits))
    client = WorkerClient.start(spec)
    return client, client.load_submission({"submission.py": STUDENT})


@pytest.fixture(scope="module", params=LEVELS)
def shared(request):
    """One worker per isolation level for the tests that leave it alive."""
    client, module = start(request.param)
    yield client, module
    client.close()


@pytest.fixture
def fresh(request):
    """A worker of its own (process level) for a test that kills it or changes it."""
    made = []

    def make(level="process", **limits):
        made.append(start(level, **limits))
        return made[-1]

    yield make
    for client, _ in made:
        client.close()


# -- values --------------------------------------------------------------------------------------
def test_values_round_trip(shared):
    client, module = shared
    assert client.isolation in ("process", "bwrap") and client.alive
    value = {"a": [1, 2.5, None, True, "text"], "b": (1, 2), "c": 1 + 2j, (1, "k"): b"\x00"}
    assert module.identity(value) == value
    array = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    back = module.identity(array)
    assert type(back) is np.ndarray and back.dtype == np.float32 and back.shape == (3, 4)
    np.testing.assert_array_equal(back, array)
    assert module.identity(np.float64(2.5)) == 2.5


def test_a_kept_value_crosses_once_and_each_call_gets_its_own_copy(shared):
    client, module = shared
    kept = client.keep(np.zeros(3))
    assert isinstance(kept, RemoteObject)
    assert module.add_one_in_place(kept).tolist() == [1.0, 1.0, 1.0]
    assert module.add_one_in_place(kept).tolist() == [1.0, 1.0, 1.0]  # not 2: a fresh copy
    assert module.same(kept, kept) is False
    with pytest.raises(WireError, match="cannot be sent"):
        client.keep(object())


def test_kept_beside_a_local_object_is_the_value_itself(shared):
    _, module = shared
    value = np.ones(2)
    assert kept_beside(np, value) is value
    assert isinstance(kept_beside(module, value), RemoteObject)


def test_objects_stay_in_the_sandbox_behind_remote_objects(shared):
    client, module = shared
    model = module.Model(3)
    assert isinstance(model, RemoteObject)
    assert repr(model).startswith("<remote submission.Model #")
    np.testing.assert_array_equal(model.means, [0.0, 1.0, 2.0])
    assert model.scale(np.array([1, 2])).tolist() == [3, 6]
    assert model[4] == 40
    assert module.same(model, model) is True  # sent back, it is the very same object there


def test_setattr_sends_plain_values_and_remote_objects(shared):
    _, module = shared
    model, other = module.Model(2), module.Model(5)
    model.k = 7
    assert model.k == 7 and model.scale(1) == 7
    model.peer = other
    assert module.same(model.peer, other)
    model.weights = np.ones(3)
    np.testing.assert_array_equal(model.weights, np.ones(3))


def test_remote_equality_hash_and_truth_are_local(shared):
    _, module = shared
    a, b = module.Model(1), module.Model(1)
    assert a == a and a != b and not (a == b)  # the student's __eq__ says True: not asked
    assert a != 1 and a != np.zeros(1).tolist()
    assert hash(a) == hash(a) and len({a, b, a}) == 2
    assert bool(a) is True  # their __bool__ and __len__ say False: not asked


def test_remote_objects_cannot_be_copied_or_pickled(shared):
    _, module = shared
    model = module.Model(1)
    for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="cannot be copied or pickled"):
            attempt(model)


def test_dunder_probes_stay_local(shared):
    client, module = shared
    model = module.Model(1)
    with pytest.raises(AttributeError):
        model.__array_interface__  # noqa: B018
    assert not hasattr(model, "__array__")  # numpy probes this: answered locally


# -- student errors ------------------------------------------------------------------------------
def test_student_error_carries_type_message_and_traceback(shared):
    client, module = shared
    with pytest.raises(StudentError) as info:
        module.fail("x")
    error = info.value
    assert (error.type_name, error.message) == ("ValueError", "bad value x")
    assert 'submission.py", line' in error.traceback and "in fail" in error.traceback
    assert "grading/sandbox" not in error.traceback and "grading/rpc" not in error.traceback
    assert error.reason == "your code raised ValueError: bad value x"
    assert client.alive  # an exception is not a crash
    with pytest.raises(StudentError) as info:
        module.fail("nie")
    assert info.value.reason.startswith("not implemented yet (the stub still raises "
                                        "NotImplementedError: fixture: fail")


def test_a_missing_attribute_is_an_attribute_error(shared):
    _, module = shared
    model = module.Model(1)
    assert not hasattr(model, "nope") and getattr(model, "nope", 5) == 5
    with pytest.raises(RemoteAttributeError, match="has no attribute 'nope'") as info:
        model.nope  # noqa: B018
    assert isinstance(info.value, StudentError) and isinstance(info.value, AttributeError)
    with pytest.raises(StudentError) as info:  # raised inside a call: not the call's attribute
        module.attr_fail()
    assert not isinstance(info.value, AttributeError)


def test_misbehaving_student_objects_do_not_upset_the_worker(shared):
    client, module = shared
    evil = module.evil_object()  # its __class__ raises KeyboardInterrupt, its __getattr__ exits
    assert isinstance(evil, RemoteObject) and repr(evil).startswith("<remote ")
    with pytest.raises(StudentError, match="SystemExit"):
        evil.anything  # noqa: B018
    del evil
    gc.collect()
    client.request("release", what="releasing", ids=client._to_release)  # its __del__ raises
    client._to_release.clear()
    assert module.identity(3) == 3 and client.alive


# -- faults --------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", LEVELS)
def test_timeout_kills_the_worker(fresh, level):
    client, module = fresh(level, call_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(CallTimeout) as info:
        module.spin()
    assert 0.4 < time.monotonic() - started < 5
    assert info.value.seconds == 0.5
    assert "calling spin did not finish within 0.5 s" in info.value.description
    assert info.value.reason.startswith("timed out: ")
    assert not client.alive
    with pytest.raises(WorkerDied, match="before reading"):
        module.identity  # noqa: B018


@pytest.mark.parametrize("level", LEVELS)
def test_a_crash_is_described_in_plain_english(fresh, level):
    client, module = fresh(level)
    with pytest.raises(WorkerDied) as info:
        module.crash(3)
    assert not isinstance(info.value, (CallTimeout, ProtocolError))
    assert info.value.description == "the worker exited with code 3 while calling crash"
    assert info.value.reason == ("your code stopped the worker process: the worker exited with "
                                 "code 3 while calling crash")
    assert "last words" in info.value.stdout  # stderr written just before dying is kept
    assert not client.alive


@pytest.mark.parametrize("level", LEVELS)
def test_a_native_crash_names_its_signal(fresh, level):
    client, module = fresh(level)
    with pytest.raises(WorkerDied, match=r"killed by SIGSEGV \(a crash in native code\)"):
        module.die_by(11)


def test_a_garbled_reply_is_a_protocol_error(fresh):
    client, module = fresh()
    with pytest.raises(ProtocolError, match="bad magic") as info:
        module.garble()  # its own answer is already garbled
    assert info.value.reason.startswith("the worker sent an invalid message and was stopped")
    assert not client.alive


@pytest.mark.parametrize("kind", ["not_a_dict", "stale_id", "id_array", "ok_array", "ok_text",
                                  "error_text", "error_fields"])
def test_a_valid_message_of_the_wrong_shape_is_a_protocol_error(fresh, kind):
    client, module = fresh()
    forge, identity = module.forge, module.identity
    forge(kind)
    with pytest.raises(ProtocolError):
        identity(1)
    assert not client.alive


def test_a_forged_huge_error_is_cut_down(fresh):
    client, module = fresh()
    forge, identity = module.forge_huge_error, module.identity
    forge()
    with pytest.raises(StudentError) as info:
        identity(1)
    error = info.value
    assert len(error.type_name) == 200 and len(error.message) == 2000
    assert len(error.traceback) <= 8000 + 10 and len(str(error)) < 3000


@pytest.mark.timeout(30)
def test_a_worker_that_stops_reading_cannot_hang_a_large_request(fresh):
    client, module = fresh(call_timeout_s=1)
    stop_reading, identity = module.stop_reading, module.identity
    stop_reading()
    started = time.monotonic()
    with pytest.raises(CallTimeout):
        identity(np.zeros(1 << 20))  # 8 MB: far more than a pipe holds
    assert time.monotonic() - started < 5 and not client.alive


def test_a_request_over_the_message_limit_is_refused_before_sending(fresh):
    client, module = fresh(message_bytes=1 << 20)
    identity = module.identity
    with pytest.raises(WireError, match="exceeds the limit"):
        identity(np.zeros(1 << 18))  # 2 MB
    assert identity(5) == 5 and client.alive  # nothing was sent: the worker is fine


def test_an_answer_over_the_message_limit_is_a_student_error(fresh):
    client, module = fresh(message_bytes=1 << 20)
    with pytest.raises(StudentError, match="WireError: message of .* exceeds the limit"):
        module.Model(1 << 18).means  # noqa: B018 - 1 MB of float32 plus framing
    assert client.alive


# -- deadlines -----------------------------------------------------------------------------------
def test_a_used_up_test_budget_fails_before_sending(fresh):
    client, module = fresh()
    identity = module.identity
    client.budget = TimeBudget(limit_s=1.0, wall_deadline=time.monotonic() + 10, cpu_used_s=1.0)
    with pytest.raises(CallTimeout, match="time limit of 1 s was already used up") as info:
        identity(1)
    assert info.value.seconds == 0


def test_a_call_gets_at_most_what_is_left_of_the_tests_wall_backstop(fresh):
    client, module = fresh()
    sleep = module.sleep
    client.budget = TimeBudget.start(0.2, wall_factor=2)
    started = time.monotonic()
    with pytest.raises(CallTimeout, match=r"stopped after 0.4 s of wall-clock time \(2x the "
                                          r"test's limit of 0.2 s of CPU time") as info:
        sleep(5)
    assert time.monotonic() - started < 3
    assert "sleep" in info.value.reason


def test_a_test_limit_counts_cpu_time_not_waiting(fresh):
    """A call that waits for a core (here: sleeps) more than the CPU limit but computes less is
    not cut; one that computes past it is, and the reason names the limit and the time used."""
    client, module = fresh()
    sleep, spin_for = module.sleep, module.spin_for
    client.budget = TimeBudget.start(1.0, wall_factor=10)
    sleep(1.5)  # 1.5 s of wall-clock time, almost no CPU
    with pytest.raises(CallTimeout, match=r"used up the test's time limit of 1 s of CPU time"):
        spin_for(30)
    assert client.budget.cpu_used_s == 1.0


def test_a_test_limit_is_not_cut_by_the_per_call_timeout(fresh):
    """Inside a test, a call may run past ``call_timeout_s``: the test's limit is the limit."""
    client, module = fresh(call_timeout_s=0.3)
    spin_for = module.spin_for
    client.budget = TimeBudget.start(5.0)
    assert spin_for(0.8) is None
    assert 0.6 < client.budget.cpu_used_s < 2.5


def test_an_explicit_timeout_of_zero(fresh):
    client, module = fresh()
    with pytest.raises(CallTimeout):
        client.request("getattr", target=module._rpc_handle, name="identity", what="x",
                       timeout=0)


# -- captured output -----------------------------------------------------------------------------
def test_take_output_collects_prints_and_fd_writes_in_time(shared):
    client, module = shared
    client.take_output()
    for i in range(30):  # fd writes land before the answer: never shown with the next call
        module.fd_write(b"fd %d;" % i)
        assert client.take_output() == f"fd {i};"
    module.talk("hello", err="oops")
    assert client.take_output() == "hello\noops\n"
    assert client.take_output() == ""


def test_a_student_error_carries_the_output_before_it(shared):
    client, module = shared
    client.take_output()
    module.talk("step 1")
    with pytest.raises(StudentError) as info:
        module.fail()
    assert info.value.stdout == "step 1\n"
    assert client.take_output() == ""


def test_output_is_capped(fresh):
    client, module = fresh(output_bytes=1000)
    module.talk("x" * 5000)  # print(): capped in the worker, per call
    assert client.take_output() == "x" * 1000 + "\n[... 4001 more characters dropped]\n"
    module.fd_write(b"y" * 5000)  # straight to the fd: capped by the grader's drain, per take
    kept = 1000 + DRAIN_NOTE_ROOM
    assert client.take_output() == "y" * kept + f"\n[... {5000 - kept} more bytes dropped]"


def test_the_output_of_many_calls_is_capped(fresh):
    client, module = fresh()
    for _ in range(20):
        module.talk("z" * 10_000)
    text = client.take_output()
    assert text.startswith("z" * 1000) and len(text) < TRANSCRIPT_CHARS + 100
    assert re.search(r"\[\.\.\. \d+ more (characters|bytes) dropped\]$", text)


def test_printed_output_survives_a_timeout(fresh):
    client, module = fresh(call_timeout_s=0.5)
    with pytest.raises(CallTimeout) as info:
        module.talk_then_spin("epoch 1 done")
    assert info.value.stdout == "epoch 1 done\n"


def test_a_student_who_replaces_stdout_is_still_captured(fresh):
    client, module = fresh()
    module.hijack_stdout()
    module.talk("still here")
    assert client.take_output() == "still here\n"


# -- handles -------------------------------------------------------------------------------------
def test_handles_are_released_in_batches_after_garbage_collection(fresh, monkeypatch):
    client, module = fresh()
    objects = module.make_tracked(6)
    assert all(isinstance(o, RemoteObject) for o in objects)
    del objects
    gc.collect()
    assert len(client._to_release) >= 6
    assert module.released == []  # fewer than RELEASE_BATCH forgotten: nothing released yet
    monkeypatch.setattr(client_module, "RELEASE_BATCH", 4)
    assert module.released == [1] * 6  # released just before this request
    assert client._to_release == []


def test_a_handle_held_by_the_grader_survives_releases_of_the_same_object(fresh, monkeypatch):
    monkeypatch.setattr(client_module, "RELEASE_BATCH", 4)
    client, module = fresh()
    kept = module.identity  # the same function object as every module.identity below
    for i in range(20):
        assert module.identity(i) == i  # each temporary RemoteObject is released
    gc.collect()
    module.identity(0)
    assert kept(41) == 41


def test_objects_of_a_dead_worker_are_refused(fresh):
    old_client, old_module = fresh()
    model = old_module.Model(2)
    old_client.close()
    with pytest.raises(WorkerDied, match="killed by SIGKILL .* before reading"):
        model.scale(1)
    new_client, new_module = fresh()
    with pytest.raises(WireError, match="earlier worker"):
        new_module.identity(model)
    assert new_client.alive


def test_only_plain_values_and_remote_objects_can_be_sent(shared):
    _, module = shared
    with pytest.raises(WireError, match="cannot be sent to the sandbox"):
        module.identity(object())


def test_every_failure_is_a_sandbox_error():
    for cls in (StudentError, WorkerDied, CallTimeout, ProtocolError, RemoteAttributeError):
        assert issubclass(cls, SandboxError)
    assert re.search("timed out", CallTimeout(1.0, "calling f").reason)


def test_len_works_and_iteration_is_a_clear_error():
    from grading.rpc.client import WorkerClient
    from grading.sandbox.launcher import SandboxSpec

    client = WorkerClient.start(SandboxSpec(isolation="process"))
    try:
        module = client.load_submission({"submission.py": b"class Bag:\n"
                                         b"    def __len__(self):\n        return 3\n"})
        bag = module.Bag()
        assert len(bag) == 3
        with pytest.raises(TypeError, match="cannot be iterated"):
            list(bag)
    finally:
        client.close()
