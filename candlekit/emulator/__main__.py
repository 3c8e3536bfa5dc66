"""``python -m candlekit.emulator``: serve the emulator until Ctrl-C."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
