"""Settings for every pytest run from the repository root (unit tests and nbval alike).

Seeded CPU training repeats bit for bit only at the same number of threads, and the
chapters' stored outputs were computed with two: nbval's kernels inherit this, so a bare
``pytest --nbval`` reproduces them on machines with more cores too. Set OMP_NUM_THREADS
yourself to override it.

Under the test suite a chapter's failed check (``expect`` or ``claim``, ``ae_helpers.checks``)
must fail the chapter, while in a reader's own session it only prints a line: the variable
below switches the checks to strict, here and in every kernel nbval starts.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("AE_STRICT_CHECKS", "1")
