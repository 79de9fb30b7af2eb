import os

# Qt without a display (CI has none); must be set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
