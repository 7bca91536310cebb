"""Entry script for the PyInstaller bundle (the same as ``aigc-studio``)."""

import sys

from aigc_studio.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
