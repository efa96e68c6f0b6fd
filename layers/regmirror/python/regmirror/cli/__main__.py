"""`python -m regmirror.cli`: the command line."""

import sys

from regmirror.cli.main import main

sys.exit(main())
