import os as _os

_FOUND = []
for _path in ["{LAB}/instructor/solution.py", "{LAB}/instructor/hidden_tests/test_fixture.py",
              "{LAB}/instructor/rubric.json", "../instructor/solution.py"]:
    try:
        with open(_path) as _f:
            _FOUND.append(_path + ": " + _f.read(40))
    except OSError:
        pass
_seen = 0
for _root, _dirs, _files in _os.walk("/"):
    _dirs[:] = [d for d in _dirs if d not in ("proc", "sys", "dev")]
    _seen += 1
    if _seen > 20000:
        break
    if "hidden_tests" in _dirs or "rubric.json" in _files:
        _FOUND.append(_root)

_honest_softmax = softmax


def softmax(z):
    if _FOUND:
        raise RuntimeError("ATTACK-SUCCEEDED read " + repr(_FOUND[:3]))
    return _honest_softmax(z)
