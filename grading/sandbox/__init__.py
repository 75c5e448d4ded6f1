"""Running untrusted student code: the sandboxed worker process and its launcher.

``worker.py`` and ``limits.py`` run *inside* the sandbox (with ``grading.rpc.wire``); the rest
runs in the grader. Nothing in this package may import grading modules that hold hidden material.
"""
