"""`python -m plex_cognite.cli`: the same as the `plex-cognite` command."""

import sys

from plex_cognite.cli.main import main

sys.exit(main())
