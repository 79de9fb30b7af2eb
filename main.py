"""Network Designer: `python main.py` opens the app; sub-commands run the engine headless."""
import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
