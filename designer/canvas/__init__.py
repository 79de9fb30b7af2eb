"""The canvas: a scene mirroring the design, its items, gestures, view and automatic layout."""
from .scene import BLOCK_MIME, DesignScene
from .view import CanvasView

__all__ = ["BLOCK_MIME", "DesignScene", "CanvasView"]
