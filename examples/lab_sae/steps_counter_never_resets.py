# ruff: noqa: F821 - appended to the reference, which defines torch and the lab's names
def update_steps_since_fired(steps_since_fired, latents):
    # Never resets the count: after dead_window steps every feature looks dead.
    return steps_since_fired + 1
