"""The worker's request handling, run in-process (no sandbox): handles, capture, errors, load."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from grading.rpc.wire import Handle
from grading.sandbox import worker as worker_module
from grading.sandbox.worker import (
    TRACEBACK_CHARS,
    CappedText,
    Worker,
    _error_dict,
    _summary,
    _type_name,
)


@pytest.fixture
def worker(tmp_path):
    return Worker(tmp_path, output_cap=100)


@pytest.fixture
def module_name():
    """A fresh module name for op_load, removed from sys.modules afterwards."""
    name = f"student_{uuid.uuid4().hex}"
    yield name
    sys.modules.pop(name, None)


class Thing:
    pass


# -- handle table --------------------------------------------------------------------------------
def test_the_same_object_always_gets_the_same_handle(worker):
    thing, other = Thing(), Thing()
    first, second = worker.to_handle(thing), worker.to_handle(thing)
    assert first.id == second.id
    assert worker.to_handle(other).id != first.id
    assert worker.from_handle(first) is thing


def test_an_id_is_dropped_only_when_every_handle_sent_was_released(worker):
    thing = Thing()
    hid = worker.to_handle(thing).id
    worker.to_handle(thing)  # sent twice: two grader-side objects, two releases to come
    worker.release([hid])
    assert worker.from_handle(Handle(hid, "t", "s")) is thing
    worker.release([hid])
    with pytest.raises(LookupError, match="released or never existed"):
        worker.from_handle(Handle(hid, "t", "s"))
    assert worker.to_handle(thing).id != hid  # a new id once it was dropped


def test_release_ignores_unknown_ids(worker):
    worker.release([12345, 0, 7])
    assert worker.objects == {}


def test_resolve_replaces_handles_in_nested_containers(worker):
    a, b = Thing(), Thing()
    ha, hb = worker.to_handle(a), worker.to_handle(b)
    value = {"x": [ha, (hb, 1)], "y": "text", "z": None}
    resolved = worker.resolve(value)
    assert resolved["x"][0] is a and resolved["x"][1][0] is b
    assert type(resolved["x"][1]) is tuple and resolved["x"][1][1] == 1
    assert resolved["y"] == "text" and resolved["z"] is None


def test_resolve_refuses_an_unknown_handle(worker):
    with pytest.raises(LookupError, match=r"handle 99 \(pkg.Cls\)"):
        worker.resolve([Handle(99, "pkg.Cls", "a Cls object")])


def test_handle_texts_never_run_the_students_code():
    class Sneaky:
        @property
        def __class__(self):
            raise KeyboardInterrupt

        def __repr__(self):
            raise SystemExit

        def __getattr__(self, name):
            raise SystemExit

    sneaky = Sneaky()
    assert _type_name(sneaky).endswith("Sneaky")
    assert _summary(sneaky) == "a test_handle_texts_never_run_the_students_code.<locals>." \
                               "Sneaky object"[:200]
    assert _type_name(os) == "module os" and _summary(os) == "module os"
    assert _summary(Thing) == "Thing" and _summary(test_release_ignores_unknown_ids) == \
        "test_release_ignores_unknown_ids"


def test_handle_texts_are_cut_to_200_characters():
    cls = type("C" * 500, (), {})
    assert len(_type_name(cls())) == 200 and len(_summary(cls())) == 200


# -- CappedText ----------------------------------------------------------------------------------
def test_capped_text_keeps_the_first_characters_and_counts_the_rest():
    sink = CappedText(10)
    assert sink.write("abcdef") == 6
    assert sink.write("ghijkl") == 6
    sink.write(12345)  # print() of a non-str goes through str()
    assert sink.getvalue() == "abcdefghij\n[... 7 more characters dropped]"


def test_capped_text_under_its_cap_has_no_note():
    sink = CappedText(10)
    sink.write("ok")
    assert sink.getvalue() == "ok" and sink.writable()


def test_capped_text_with_an_fd_writes_what_it_keeps_there_at_once():
    r, w = os.pipe()
    try:
        sink = CappedText(5, fd=w)
        assert sink.fileno() == w and sink.encoding == "utf-8"
        sink.write("héllo world")
        assert os.read(r, 100) == "héllo".encode()  # before the call ends: survives a crash
        sink.finish()
        assert os.read(r, 100) == b"\n[... 6 more characters dropped]\n"
        assert sink.getvalue() == ""
    finally:
        os.close(r)
        os.close(w)
    sink.write("x")  # a closed fd (the student closed it) is not an error of ours


def test_the_worker_sends_output_to_its_fds(tmp_path):
    r, w = os.pipe()
    try:
        worker = Worker(tmp_path, output_cap=100, output_fds=(w, w))

        def speak():
            print("out")
            print("err", file=sys.stderr)

        response = worker.handle({"id": 1, "op": "call", "target": worker.to_handle(speak)})
        assert (response["stdout"], response["stderr"]) == ("", "")
        assert os.read(r, 100) == b"out\nerr\n"
    finally:
        os.close(r)
        os.close(w)


# -- errors --------------------------------------------------------------------------------------
def students_function():
    raise ValueError("bad input")


def test_error_dict_hides_the_workers_own_frames(worker):
    response = worker.handle({"id": 1, "op": "call", "target": worker.to_handle(students_function)})
    error = response["error"]
    assert response["ok"] is False and error["type"] == "ValueError"
    assert error["message"] == "bad input"
    assert "students_function" in error["traceback"]
    assert "in handle" not in error["traceback"]  # our frames (handle, op_call) are hidden
    assert "in op_call" not in error["traceback"]
    assert error["traceback"].count("File ") == 1
    assert error["traceback"].endswith("ValueError: bad input\n")


def test_error_dict_names_libraries_and_python_without_the_graders_paths():
    import json as stdlib_json

    import numpy as np

    texts = []
    for raises in (lambda: np.linalg.cholesky(-np.eye(2)), lambda: stdlib_json.loads("{")):
        try:
            raises()
        except Exception as exc:  # noqa: BLE001 - any error a library raises
            texts.append(text := _error_dict(exc)["traceback"])
        assert sys.prefix not in text and sys.base_prefix not in text, text
        assert str(Path(__file__).resolve().parents[3]) not in text, text
    assert 'File "<site-packages>/numpy/linalg/' in texts[0]
    assert 'File "<python>/json/' in text
    assert 'File "tests/grading/sandbox/test_worker.py"' in text


def test_error_dict_survives_a_message_that_cannot_be_shown():
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no")

        @property
        def __notes__(self):
            raise RuntimeError("no notes either")

    try:
        raise Weird()
    except Weird as exc:
        error = _error_dict(exc)
    assert error["type"] == "Weird"
    assert error["message"] == "<the exception's message could not be shown>"
    assert error["traceback"]


def test_error_dict_keeps_the_tail_of_a_long_traceback():
    try:
        raise ValueError("x" * (3 * TRACEBACK_CHARS) + " the end")
    except ValueError as exc:
        error = _error_dict(exc)
    assert error["traceback"].startswith("[...]\n")
    assert len(error["traceback"]) == TRACEBACK_CHARS + len("[...]\n")
    assert error["traceback"].endswith(" the end\n")
    assert len(error["message"]) == 2000


# -- handle(): capture, ops ----------------------------------------------------------------------
def test_handle_captures_output_and_echoes_the_id(worker):
    def noisy(x):
        print("to stdout", x)
        print("to stderr", file=sys.stderr)
        return x * 2

    response = worker.handle({"id": 7, "op": "call", "target": worker.to_handle(noisy),
                              "args": [21], "kwargs": {}})
    assert response == {"id": 7, "ok": True, "value": 42, "stdout": "to stdout 21\n",
                        "stderr": "to stderr\n"}


def test_handle_caps_captured_output(worker):
    def flood():
        print("x" * 1000)

    response = worker.handle({"id": 1, "op": "call", "target": worker.to_handle(flood)})
    assert response["stdout"] == "x" * 100 + "\n[... 901 more characters dropped]"


def test_handle_restores_stdout_replaced_by_the_students_code(worker):
    saved = sys.stdout, sys.stderr

    def hijack():
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - permanently, on purpose

    worker.handle({"id": 1, "op": "call", "target": worker.to_handle(hijack)})
    assert (sys.stdout, sys.stderr) == saved

    def speak():
        print("still captured")

    response = worker.handle({"id": 2, "op": "call", "target": worker.to_handle(speak)})
    assert response["stdout"] == "still captured\n"


def test_handle_turns_system_exit_into_an_error(worker):
    def leave():
        sys.exit(3)

    response = worker.handle({"id": 1, "op": "call", "target": worker.to_handle(leave)})
    assert response["ok"] is False and response["error"]["type"] == "SystemExit"


def test_handle_refuses_unknown_ops(worker):
    for op in ("nope", None, 3, "__init__"):
        response = worker.handle({"id": 1, "op": op})
        assert response["ok"] is False and response["error"]["type"] in ("ValueError",
                                                                          "TypeError")


def test_getattr_and_setattr_ops(worker):
    thing = Thing()
    target = worker.to_handle(thing)
    assert worker.handle({"id": 1, "op": "setattr", "target": target, "name": "x",
                          "value": [1, 2]})["ok"]
    assert thing.x == [1, 2]
    assert worker.handle({"id": 2, "op": "getattr", "target": target, "name": "x"})["value"] \
        == [1, 2]
    other = Thing()
    worker.handle({"id": 3, "op": "setattr", "target": target, "name": "peer",
                   "value": worker.to_handle(other)})
    assert thing.peer is other  # a Handle as the value is resolved to its object
    missing = worker.handle({"id": 4, "op": "getattr", "target": target, "name": "nope"})
    assert missing["error"]["type"] == "AttributeError"


def test_release_op(worker):
    hid = worker.to_handle(Thing()).id
    assert worker.handle({"id": 1, "op": "release", "ids": [hid]}) == {"id": 1, "ok": True,
                                                                        "value": None}
    assert hid not in worker.objects


# -- op_load ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../outside.py", "/tmp/abs.py", "", ".", "sub/../../x.py"])
def test_load_refuses_paths_outside_scratch(worker, tmp_path, name, module_name):
    with pytest.raises(ValueError, match="outside the scratch folder"):
        worker.op_load({name: b"x = 1\n"}, module=module_name)
    assert not (tmp_path.parent / "outside.py").exists()


def test_load_writes_files_and_imports_the_module(worker, tmp_path, module_name):
    files = {f"{module_name}.py": b"VALUE = 41 + 1\n", "data/weights.txt": b"1 2 3"}
    module = worker.op_load(files, module=module_name)
    assert module.VALUE == 42 and sys.modules[module_name] is module
    assert (tmp_path / "data" / "weights.txt").read_bytes() == b"1 2 3"


def test_a_failed_import_leaves_no_half_module(worker, module_name):
    with pytest.raises(ZeroDivisionError):
        worker.op_load({f"{module_name}.py": b"x = 1 / 0\n"}, module=module_name)
    assert module_name not in sys.modules


def test_only_our_own_folders_are_hidden_from_tracebacks(worker):
    assert [p.rstrip(os.sep).split(os.sep)[-2:] for p in worker_module.WORKER_FILES] == [
        ["grading", "sandbox"], ["grading", "rpc"]]
    # a student's helper in a folder that happens to be called grading/sandbox stays visible
    helper_path = worker.scratch / "grading" / "sandbox" / "helper.py"
    namespace: dict = {}
    exec(compile("def fail():\n    raise KeyError('in helper')\n", str(helper_path), "exec"),
         namespace)
    response = worker.handle({"id": 1, "op": "call", "target": worker.to_handle(namespace["fail"])})
    assert str(helper_path) in response["error"]["traceback"]
