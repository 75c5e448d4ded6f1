from common.progress import progress, progress_disabled


def test_progress_iterates_and_can_be_disabled(monkeypatch):
    monkeypatch.setenv("LABS_NO_PROGRESS", "1")
    assert progress_disabled()
    assert list(progress(range(3), desc="x")) == [0, 1, 2]


def test_transient_bars_stay_out_of_log_files(monkeypatch, capsys):
    monkeypatch.delenv("LABS_NO_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    assert list(progress(range(3), desc="inner", leave=False)) == [0, 1, 2]
    assert list(progress(range(3), desc="outer")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "inner" not in err and "outer" in err
