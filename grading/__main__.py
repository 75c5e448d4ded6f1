"""``python -m grading ...``: see ``grading.cli``."""

import sys

from grading.cli import main

sys.exit(main())
