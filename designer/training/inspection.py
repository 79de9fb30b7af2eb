"""Looking inside a trained network: the engine's :mod:`engine.training.inspect` (no Qt, no
torch at import), under the name the app's modules use. Its torch work runs in background threads."""
from engine.training.inspect import (
                                     EquivarianceRow,
                                     activations,
                                     confusion_matrix,
                                     equivariance_probe,
                                     first_conv_filters,
                                     first_conv_node,
                                     shift,
                                     spatial_nodes,
                                     tapped_model,
                                     top_k,
)

__all__ = ["EquivarianceRow", "activations", "confusion_matrix", "equivariance_probe", "first_conv_filters",
           "first_conv_node", "shift", "spatial_nodes", "tapped_model", "top_k"]
