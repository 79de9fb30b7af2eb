"""The app's version: kept in ``engine.version`` (the engine never imports the designer); re-exported
here for the designer's Help menu and About box."""
from engine.version import app_version

__all__ = ["app_version"]
