"""``python -m tests.mutation``: see :mod:`tests.mutation.run`."""
import sys

from .run import main

sys.exit(main())
