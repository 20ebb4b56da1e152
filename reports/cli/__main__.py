"""``python -m attndyn.reports.cli``: the same as the ``attndyn`` command."""
import sys

from attndyn.reports.cli import main

sys.exit(main())
