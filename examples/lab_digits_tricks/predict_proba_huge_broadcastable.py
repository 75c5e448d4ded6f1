# ruff: noqa: F821 - appended to the reference, which defines the lab's names
# Adversarial: predict_proba hands back a (20000, 1, 1) array, which numpy would broadcast
# against the expected (200, 10) probabilities into 20000 x 200 x 10. The grader refuses it by
# its shape before computing anything with it.
_honest_predict_proba = predict_proba


def predict_proba(model, X):
    probs = _honest_predict_proba(model, X)
    return probs.reshape(-1)[:1].repeat(20000).reshape(20000, 1, 1)
