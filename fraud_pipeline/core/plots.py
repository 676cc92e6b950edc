"""Deterministic PNG pictures with matplotlib: the same data gives the same bytes.

matplotlib's Agg renderer is deterministic for a fixed font and size; what varies between runs is
metadata (the Software tag), so it is dropped. The style is fixed here (a bundled font, no user
matplotlibrc), so a user's configuration cannot change a stored picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
         "axes.spines.right": False, "axes.grid": True, "grid.color": "#e6e6e6", "grid.linewidth": 0.6,
         "legend.frameon": False, "figure.dpi": 100}


@dataclass(frozen=True)
class Margins:
    """Fixed margins around a column of axes, in inches: the room for tick labels and axis labels (left, bottom),
    a legend above (top), and each axes' title (gap, between axes)."""

    left: float
    right: float
    top: float
    bottom: float
    gap: float


def figure(width_in: float, height_in: float, rows: int = 1, columns: int = 1, margins: Margins | None = None,
           **subplots) -> tuple[Figure, object]:
    """A figure and its axes, in the project's fixed style (no pyplot state: safe in any process). Laid out by
    matplotlib's constrained layout, or by fixed `margins`: constrained layout measures every axis' ticks before
    the figure is drawn, and drawing then measures them again — with many axes (the anomaly timeline's dozen
    panels) that doubles the time to save the picture."""
    with matplotlib.rc_context(STYLE):
        if margins is None:
            fig = Figure(figsize=(width_in, height_in), layout="constrained")
            axes = fig.subplots(rows, columns, squeeze=False, **subplots)
            return fig, axes
        fig = Figure(figsize=(width_in, height_in))
        height = (height_in - margins.top - margins.bottom - (rows - 1) * margins.gap) / rows
        grid = {"left": margins.left / width_in, "right": 1 - margins.right / width_in,
                "top": 1 - margins.top / height_in, "bottom": margins.bottom / height_in,
                "hspace": margins.gap / height}
        axes = fig.subplots(rows, columns, squeeze=False, gridspec_kw=grid, **subplots)
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
