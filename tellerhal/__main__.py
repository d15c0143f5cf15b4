"""``python -m tellerhal`` runs the command line."""

import sys

from tellerhal.cli.main import main

sys.exit(main())
