"""Makes the trusted helper module ``sae_reference`` importable by the hidden tests."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
