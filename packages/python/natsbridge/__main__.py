"""``python -m natsbridge``: see :mod:`natsbridge.cli`."""

import sys

from .cli import main

sys.exit(main())
