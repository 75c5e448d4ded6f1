from common.progress import progress, progress_disabled


def test_progress_iterates_and_can_be_disabled(monkeypatch):
    monkeypatch.setenv("LABS_NO_PROGRESS", "1")
    assert progress_disabled()
    assert list(progress(range(3), desc="x")) == [0, 1, 2]
