"""Allow ``python -m aigc_studio``."""

import sys

from aigc_studio.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
