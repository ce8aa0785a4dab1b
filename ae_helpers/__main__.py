"""``python -m ae_helpers``: see :mod:`ae_helpers.cli`."""

from .cli import main

raise SystemExit(main())
