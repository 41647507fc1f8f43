"""``python -m web.cli`` runs the `pingbiao` command line."""

import sys

from web.cli.main import main

sys.exit(main())
