"""Pictures: the network, the computation graph and gradient paths, formulas, training,
gradient flow.

Every drawing function takes ``ax=None`` (a new figure by default), returns a
:class:`~symbackprop.render.drawing.Drawing` that says what was drawn, never calls
``plt.show()``, and imports matplotlib only when called.
"""

from __future__ import annotations

from .drawing import Drawing
from .expression import draw_expression
from .flow import plot_gradient_flow
from .formula import draw_formula
from .graph import draw_computation_graph, draw_gradient_paths
from .network import draw_network
from .training import plot_decision_boundary, plot_history

__all__ = [
    "Drawing",
    "draw_computation_graph",
    "draw_expression",
    "draw_formula",
    "draw_gradient_paths",
    "draw_network",
    "plot_decision_boundary",
    "plot_gradient_flow",
    "plot_history",
]
