import os as _os
import sys as _sys

_honest_softmax = softmax


def softmax(z):
    line = "x" * 999
    for _ in range(100_000):  # 100 MB through print()
        print(line)
    chunk = b"y" * (1 << 20)
    for _ in range(10):  # and 10 MB straight into the stdout file descriptor
        _os.write(1, chunk)
    _sys.stderr.write("z" * (1 << 20))
    return _honest_softmax(z)
