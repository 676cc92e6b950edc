"""Deterministic PNG pictures with matplotlib: the same data gives the same bytes.

matplotlib's Agg renderer is deterministic for a fixed font and size; what varies between runs is
metadata (the Software tag), so it is dropped. The style is fixed here (a bundled font, no user
matplotlibrc), so a user's configuration cannot change a stored picture.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
         "axes.spines.right": False, "axes.grid": True, "grid.color": "#e6e6e6", "grid.linewidth": 0.6,
         "legend.frameon": False, "figure.dpi": 100}


def figure(width_in: float, height_in: float, rows: int = 1, columns: int = 1, **subplots) -> tuple[Figure, object]:
    """A figure and its axes, in the project's fixed style (no pyplot state: safe in any process)."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width_in, height_in), layout="constrained")
        axes = fig.subplots(rows, columns, squeeze=False, **subplots)
    return fig, axes


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes, without the metadata that would make them differ between runs."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def line_handle(colour: str, label: str, **line) -> Line2D:
    """A legend entry for a line drawn without a label (or not drawn on every axes)."""
    return Line2D([], [], color=colour, label=label, **line)
