import os
import subprocess
import sys

import pytest

from common.threads import (
    THREAD_ENV_VARS,
    available_cores,
    cores_per_worker,
    set_thread_budget,
    thread_env,
)


def test_thread_env_sets_every_blas_variable():
    env = thread_env(3)
    assert set(env) == set(THREAD_ENV_VARS)
    assert set(env.values()) == {"3"}
    with pytest.raises(ValueError, match="received 0"):
        thread_env(0)


def test_cores_per_worker_is_the_share_and_at_least_one():
    cores = available_cores()
    assert cores_per_worker(1) == cores
    assert cores_per_worker(cores * 4) == 1
    with pytest.raises(ValueError):
        cores_per_worker(0)


def test_set_thread_budget_reaches_torch_and_blas_in_a_child_process():
    code = (
        "import torch, numpy\n"
        "from common.threads import set_thread_budget\n"
        "set_thread_budget(1)\n"
        "from threadpoolctl import threadpool_info\n"
        "import os\n"
        "print(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'],"
        " max(p['num_threads'] for p in threadpool_info()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV_VARS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=120)
    assert out.stdout.split() == ["1", "1", "1"]


def test_set_thread_budget_in_process_restores(monkeypatch):
    for var in THREAD_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    set_thread_budget(1)
    assert os.environ["MKL_NUM_THREADS"] == "1"
