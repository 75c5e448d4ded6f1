"""Resource limits of a sandboxed worker, applied inside it so both isolation levels share them."""

from __future__ import annotations

import resource
from dataclasses import asdict, dataclass

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class SandboxLimits:
    """What one worker may use.

    address_space_bytes: RLIMIT_AS; a memory bomb gets MemoryError or dies here.
    cpu_seconds: RLIMIT_CPU over the worker's whole life (all tests of one module).
    file_size_bytes: RLIMIT_FSIZE, the largest file it may write.
    max_tasks: RLIMIT_NPROC, processes *and threads* of the sandbox uid (BLAS/torch pools count).
    open_files: RLIMIT_NOFILE.
    memory_bytes: the whole sandbox's memory in its control group (cgroup ``memory.max``), shared
        memory, memfd and tmpfs pages included, where the grader may create one.
    call_timeout_s: wall-clock limit of one call made outside a test (a test's own limit, in CPU
        seconds, replaces it: ``grading.rpc.budget``).
    start_timeout_s: wall-clock limit for the worker to import numpy/torch and say it is ready.
    import_timeout_s: wall-clock limit for importing the submission (a failure, a timeout
        included, is kept for the whole grading run: ``grading.session.ImportOutcome``).
    scratch_bytes, tmp_bytes: sizes of the in-memory /scratch, and of /tmp and /dev/shm (bwrap).
    output_bytes: captured stdout+stderr kept per call; the rest is counted and dropped.
    message_bytes: the largest message accepted from the worker.
    threads: the CPU-thread budget (BLAS, OpenMP, torch); 0 leaves the libraries' defaults.
    """

    address_space_bytes: int = 4 * GIB
    memory_bytes: int = 4 * GIB
    cpu_seconds: int = 900
    file_size_bytes: int = 256 * MIB
    max_tasks: int = 256
    open_files: int = 512
    call_timeout_s: float = 60.0
    start_timeout_s: float = 60.0
    import_timeout_s: float = 30.0
    scratch_bytes: int = 512 * MIB
    tmp_bytes: int = 256 * MIB
    output_bytes: int = 64 * 1024
    message_bytes: int = 512 * MIB
    threads: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def apply_rlimits(limits: SandboxLimits, include_nproc: bool) -> None:
    """Lower this process's limits (inherited by everything it starts). Runs in the worker.

    ``include_nproc`` is False while still root: the kernel ignores RLIMIT_NPROC for root, and
    for a shared uid it would count the grader's own processes.
    """
    pairs = [
        (resource.RLIMIT_AS, limits.address_space_bytes),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if include_nproc:
        pairs.append((resource.RLIMIT_NPROC, limits.max_tasks))
    for which, value in pairs:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
