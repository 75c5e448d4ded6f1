"""A test's time limit, as the grader enforces it on the sandbox.

The limit a test declares (``@pytest.mark.time_limit(150)``) counts the **CPU time** of the
sandbox: what the student's code computes, in every process and thread it runs, during the
test's calls. Time spent waiting for a core on a loaded machine does not count, so the same
code gets the same verdict on an idle machine and on a busy one; a CPU burner the submission
starts only uses up its own limit. Code that waits instead of computing (``sleep``, a lock, a
pipe nobody writes) is cut by a wall-clock backstop of ``wall_factor`` times the limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

WALL_FACTOR = 3.0  # the wall-clock backstop, in multiples of the CPU limit


@dataclass
class TimeBudget:
    """What is left of one test's time limit.

    limit_s: the declared limit, in CPU seconds of the sandbox.
    wall_deadline: the backstop on the monotonic clock.
    cpu_used_s: CPU seconds the test's calls used so far.
    """

    limit_s: float
    wall_deadline: float
    wall_factor: float = WALL_FACTOR
    cpu_used_s: float = 0.0

    @classmethod
    def start(cls, limit_s: float, wall_factor: float = WALL_FACTOR) -> TimeBudget:
        """The budget of a test that starts now."""
        return cls(limit_s, time.monotonic() + wall_factor * limit_s, wall_factor)

    @property
    def cpu_left_s(self) -> float:
        return self.limit_s - self.cpu_used_s

    @property
    def wall_limit_s(self) -> float:
        return self.wall_factor * self.limit_s

    def pause(self, seconds: float) -> None:
        """Give back ``seconds`` of wall-clock time that was not the test's (an import)."""
        self.wall_deadline += seconds
