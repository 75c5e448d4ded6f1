# ruff: noqa: F821, NPY002 - appended to the reference, which defines np, Image, Path, GMM, PCA
# Centres X in place (X -= mean) inside the E-step: the caller's data is changed.
_honest_e_step = GMM._e_step


def _e_step_in_place(self, X):
    gamma = _honest_e_step(self, X)
    X -= X.mean(axis=0)
    return gamma


GMM._e_step = _e_step_in_place
