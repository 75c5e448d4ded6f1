"""Project-wide test configuration."""

# The fixture lab's hidden and public tests are run by the grader under test, not collected here.
collect_ignore_glob = ["grading/fixture_lab/*", "grading/adversarial/*"]
