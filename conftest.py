"""Settings for every pytest run from the repository root (unit tests and nbval alike).

Seeded CPU training repeats bit for bit only at the same number of threads, and the
chapters' stored outputs were computed with two: nbval's kernels inherit this, so a bare
``pytest --nbval`` reproduces them on machines with more cores too. Set OMP_NUM_THREADS
yourself to override it.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
