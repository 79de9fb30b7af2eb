"""Network Designer: `python main.py` opens the app; sub-commands run the engine headless."""
import sys

if __name__ == "__main__":
    if sys.argv[1:2] in (["--version"], ["-V"]):  # before anything heavy: no Qt, no torch
        from designer.version import app_version
        print(f"network-designer {app_version()}")
        sys.exit(0)
    from engine.cli import main
    sys.exit(main())
