import os as _os
import time as _time


class RunningMean(RunningMean):
    def update(self, values):
        forked = 0
        for _ in range(2000):  # bounded: a broken sandbox leaves 2000 sleepers, not a dead machine
            try:
                pid = _os.fork()
            except OSError:
                break
            if pid == 0:
                _time.sleep(30)
                _os._exit(0)
            forked += 1
        raise RuntimeError(f"forked {forked} processes")
