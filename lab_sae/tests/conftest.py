"""Public tests use the grader's fixtures (``submission``, ``credit``, ...)."""


def pytest_addoption(parser, pluginmanager):
    if not pluginmanager.has_plugin("grading.pytest_plugin"):
        pluginmanager.import_plugin("grading.pytest_plugin")
