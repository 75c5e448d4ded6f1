"""Project-wide test configuration."""

import os
import shutil

import pytest

from grading.sandbox.launcher import WORKER_PYTHON_ENV, SandboxSpec, process_level_problem

# The fixture lab's hidden and public tests are run by the grader under test, not collected here.
collect_ignore_glob = ["grading/fixture_lab/*", "grading/adversarial/*"]


@pytest.fixture(scope="session", autouse=True)
def process_workers_never_run_as_root():
    """As root with an interpreter others cannot read (a Python under /root), process-level
    workers are refused, never run as root: give them a Python others can run, as a TA would
    (``LABS_WORKER_PYTHON``). Tests of the refusal itself patch the probe."""
    if os.getuid() != 0 or os.environ.get(WORKER_PYTHON_ENV) or \
            process_level_problem(SandboxSpec(isolation="process")) is None:
        yield
        return
    from tests.readable_python import temporary_readable_python

    python, folder = temporary_readable_python()
    if python is not None:
        os.environ[WORKER_PYTHON_ENV] = python
    try:
        yield
    finally:
        os.environ.pop(WORKER_PYTHON_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)
