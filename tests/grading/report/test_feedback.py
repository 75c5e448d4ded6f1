"""Student feedback (Markdown): content, withheld details, safe rendering of student text."""

from __future__ import annotations

import re

import pytest

from grading.report.feedback import (
    OUTPUT_CAP,
    code_span,
    escape_inline,
    fenced,
    render_feedback,
    write_feedback,
)
from grading.report.result import SubmissionResult, TestResult

STARTED = "2025-03-01T09:30:00+00:00"


def submission(tests: list[TestResult], **overrides) -> SubmissionResult:
    kwargs = dict(submission_id="alice", lab="lab_gmm", tests=tests, isolation="bwrap",
                  grader_version="0.1.0", started_at=STARTED, execution_time=3.0)
    kwargs.update(overrides)
    return SubmissionResult(**kwargs)


def mixed() -> SubmissionResult:
    return submission([
        TestResult("test_e_step", 2, 2, "passed", number="1.1"),
        TestResult("test_m_step", 3, 0, "failed", number="1.2",
                   reason="your code raised ValueError", expected="means of shape (10, 50)",
                   received="means of shape (50, 10)", hint="check which axis you average over",
                   output="debug: Nk = [3 4 5]\n"),
        TestResult("accuracy", 4, 1.5, "failed", number="2.1", kind="performance",
                   reason="accuracy 0.65 is below the target 0.90", expected=">= 0.90",
                   received="0.65"),
        TestResult("test_hidden_ll", 2, 0, "failed", number="3.1", visibility="hidden",
                   reason="log-likelihood off by 12.5", expected="SECRET-LL-123.45",
                   received="-111.0", hint="HIDDEN-HINT", output="HIDDEN-OUTPUT"),
        TestResult("test_after_due", 1, 0, "failed", number="3.2", visibility="after_due_date",
                   expected="LATER-EXPECTED"),
        TestResult("test_after_pub", 1, 0, "failed", number="3.3",
                   visibility="after_published", expected="PUB-EXPECTED"),
        TestResult("q1_explain_pca", 3, 0, "pending", kind="manual", number="4.1"),
    ])


def fence_blocks(markdown: str) -> list[tuple[str, str]]:
    """(fence, content) of every fenced block, parsed the CommonMark way (a closing fence is a
    line of at least as many backticks as the opening one and nothing else)."""
    blocks, lines, i = [], markdown.split("\n"), 0
    while i < len(lines):
        opening = re.match(r"^(`{3,})[^`]*$", lines[i])
        if not opening:
            i += 1
            continue
        fence, body, i = opening.group(1), [], i + 1
        while i < len(lines) and not re.fullmatch(rf"`{{{len(fence)},}}\s*", lines[i]):
            body.append(lines[i])
            i += 1
        assert i < len(lines), "unterminated fence"
        blocks.append((fence, "\n".join(body)))
        i += 1
    return blocks


# ------------------------------------------------------------------ content


def test_header_and_table():
    text = render_feedback(mixed())
    assert text.startswith("# Feedback for lab\\_gmm\n")
    assert "- **Autograder score:** 3.5 / 13" in text
    assert "- **Written answers:** 3 points, graded by hand" in text
    assert "- **Isolation:** bwrap" in text
    assert "| 1.2 | `test_m_step` | 0 / 3 | failed |" in text
    assert "| 2.1 | `accuracy` | 1.5 / 4 | partial credit |" in text
    assert "| 1.1 | `test_e_step` | 2 / 2 | passed |" in text
    assert "| 4.1 | `q1_explain_pca` | – / 3 | pending (graded by hand) |" in text
    for name in ("test_hidden_ll", "test_after_due", "test_after_pub"):
        assert f"`{name}`" in text


def test_failed_visible_test_is_explained():
    text = render_feedback(mixed())
    section = text.split("### 1.2 `test_m_step` (0 / 3)")[1].split("###")[0]
    assert "- **Why:** your code raised ValueError" in section
    assert "- **Hint:** check which axis you average over" in section
    assert "**Expected:**\n\n```text\nmeans of shape (10, 50)\n```" in section
    assert "**Received:**\n\n```text\nmeans of shape (50, 10)\n```" in section
    assert "```text\ndebug: Nk = [3 4 5]\n```" in section
    assert "### `test_e_step`" not in text and "### 1.1" not in text  # passed: no section


def test_hidden_and_unreleased_tests_do_not_leak():
    text = render_feedback(mixed())
    for secret in ("SECRET-LL-123.45", "HIDDEN-HINT", "HIDDEN-OUTPUT", "-111.0",
                   "log-likelihood off", "LATER-EXPECTED", "PUB-EXPECTED"):
        assert secret not in text
    assert "- `test_hidden_ll` (0 / 2): details are not shown for hidden tests." in text
    assert "- `test_after_due` (0 / 1): details will be shown after the due date." in text
    assert "- `test_after_pub` (0 / 1): details will be shown when grades are published." in text
    assert "TA view" not in text


def test_reveal_all_is_a_ta_view():
    text = render_feedback(mixed(), reveal_all=True)
    for secret in ("SECRET-LL-123.45", "HIDDEN-HINT", "HIDDEN-OUTPUT", "LATER-EXPECTED",
                   "PUB-EXPECTED"):
        assert secret in text
    assert "**TA view:**" in text
    assert "Tests without details" not in text


def test_error_result_feedback():
    result = SubmissionResult.from_error(
        submission_id="bob", lab="lab_sae", error="no submission.py was found",
        isolation="rlimits-only", grader_version="0.1.0", started_at=STARTED)
    text = render_feedback(result)
    assert "> **The autograder could not grade your submission:** no submission.py was found" \
        in text
    assert "- **Autograder score:** 0 / 0" in text
    assert "- **Isolation:** rlimits-only" in text
    assert "No tests were run." in text
    assert "All autograded tests passed" not in text


def test_all_passed_feedback():
    result = submission([TestResult("test_a", 1, 1, "passed")])
    text = render_feedback(result)
    assert "All autograded tests passed." in text
    assert "What to fix" not in text and "Written answers" not in text


def test_the_graders_note_comes_first_fenced():
    result = submission([TestResult("test_a", 1, 1, "passed")], output="worker restarted once")
    text = render_feedback(result)
    assert "## Read this first\n\n```text\nworker restarted once\n```" in text
    assert text.index("Read this first") < text.index("## Tests")


def test_what_to_fix_starts_with_the_most_points_lost():
    result = submission([TestResult("small", 1, 0, "failed", reason="r1"),
                         TestResult("big", 5, 1, "failed", reason="r2"),
                         TestResult("middle", 2, 0, "failed", reason="r3")])
    text = render_feedback(result)
    fix = text[text.index("## What to fix"):]
    assert fix.index("`big`") < fix.index("`middle`") < fix.index("`small`")


# ------------------------------------------------------------------ safety


def test_student_backticks_cannot_break_the_fence():
    evil = "before\n```\n# Injected heading\n<script>alert(1)</script>\n``````\nafter"
    test = TestResult("test_x", 1, 0, "failed", reason="boom", output=evil, received=evil)
    text = render_feedback(submission([test]))
    blocks = fence_blocks(text)
    assert len(blocks) == 2  # received + output, each one intact block
    for fence, content in blocks:
        assert len(fence) == 7  # longer than the 6-backtick run inside
        assert "# Injected heading" in content and content.endswith("after")
    outside = re.sub(r"^(`{3,}).*?^\1$", "", text, flags=re.S | re.M)
    assert "# Injected heading" not in outside and "<script>" not in outside


def test_inline_student_text_is_escaped():
    reason = "your code raised ValueError: **bold** <img src=x> [link](http://x) | `tick`"
    test = TestResult("test_x", 1, 0, "failed", reason=reason, hint="multi\nline\nhint")
    text = render_feedback(submission([test]))
    why = next(line for line in text.splitlines() if line.startswith("- **Why:**"))
    assert "\\*\\*bold\\*\\*" in why and "\\<img" in why and "\\[link\\]" in why
    assert "\\|" in why and "\\`tick\\`" in why
    assert "- **Hint:** multi line hint" in text


def test_names_with_pipes_and_backticks_stay_in_their_cell():
    test = TestResult("test[a|b]`x`", 1, 0, "failed")
    row = next(line for line in render_feedback(submission([test])).splitlines()
               if "test[a" in line)
    assert row == "| `` test[a\\|b]`x` `` | 0 / 1 | failed |"


def test_long_output_is_truncated():
    test = TestResult("test_x", 1, 0, "failed", output="line\n" * 10_000 + "LAST")
    text = render_feedback(submission([test]))
    (_, content), = fence_blocks(text)
    assert len(content) <= OUTPUT_CAP
    assert "[... truncated " in content and content.endswith("LAST")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("plain", "`plain`"), ("a`b", "``a`b``"), ("`x", "`` `x ``"), ("", ""),
     ("a|b", "`a|b`")],
)
def test_code_span(text, expected):
    assert code_span(text) == expected


def test_fenced_and_escape_helpers():
    assert fenced("x") == "```text\nx\n```"
    assert fenced("a ```` b").startswith("`````text\n")
    assert escape_inline("a_b*c") == "a\\_b\\*c"
    assert escape_inline("x" * 10_000, cap=50).count("x") < 50


# ------------------------------------------------------------------ determinism


def test_feedback_is_deterministic(tmp_path):
    first = write_feedback(mixed(), tmp_path / "a" / "feedback.md").read_bytes()
    second = write_feedback(mixed(), tmp_path / "b" / "feedback.md").read_bytes()
    assert first == second == render_feedback(mixed()).encode("utf-8")
    assert first.endswith(b"\n") and not first.endswith(b"\n\n")
    assert "2025" not in first.decode()  # no timestamps
