import definitely_not_an_installed_module  # noqa: F401
