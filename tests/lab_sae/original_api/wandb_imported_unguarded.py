# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
# The original's `import wandb` at the top of the file, unguarded. wandb is not in the lab's
# requirements and is not installed where the grader runs: the submission cannot be imported,
# so no test can run (0), and the feedback names the missing module.
import wandb  # noqa: F401, E402
