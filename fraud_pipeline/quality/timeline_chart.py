"""The anomaly timeline picture: per-batch metrics over the calendar, with the baseline band and marked batches.

Drawn with matplotlib through `plots` (fixed style, no run-dependent metadata: the same panels give the
same PNG bytes). Each panel keeps its metric's range: the band is clipped to it, so a volume never
shows below zero and a rate never above one.

A dozen panels over three weeks is slow to draw if matplotlib is left to measure it: constrained layout measures
every axis' ticks before drawing and the date locator recomputes the days for each of them. So the margins are fixed
(room for six-digit tick labels, the legend above, a title over each panel) and the day ticks are computed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator

from fraud_pipeline.core import plots

BAND, LINE, PLANNED, SIDE, WINDOW = "#d9d9d9", "#1f4e9c", "#f4a6a6", "#fdd9a9", "#555555"
WIDTH_IN, PANEL_IN = 11, 1.55
MARGINS = plots.Margins(left=0.85, right=0.3, top=0.75, bottom=0.35, gap=0.45)  # inches


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str            # the y axis label
    values: np.ndarray   # one per point (day × batch); NaN where missing
    low: np.ndarray      # the baseline band
    high: np.ndarray
    planned: np.ndarray  # point indices the panel's metric is planned to move
    side: np.ndarray     # point indices it moves as a side effect
    floor: float         # the metric's range: the band is drawn inside it
    ceiling: float


def render(panels: list[Panel], days: list[date], points_per_day: int, first_window_day: int) -> bytes:
    """The picture of `draw` as PNG bytes."""
    return plots.png(draw(panels, days, points_per_day, first_window_day))


def draw(panels: list[Panel], days: list[date], points_per_day: int, first_window_day: int) -> Figure:
    """Panels stacked over the same time axis (a point per micro-batch, at its middle; `first_window_day` indexes
    `days`). Raises ValueError for no panels or panels whose length is not len(days) × points_per_day."""
    n = len(days) * points_per_day
    if not panels or any(len(p.values) != n for p in panels):
        raise ValueError(f"render needs panels of {n} points ({len(days)} days × {points_per_day} batches)")
    step = timedelta(hours=24 / points_per_day)
    start = [datetime.combine(d, datetime.min.time()) for d in days]
    times = np.array([start[i // points_per_day] + (i % points_per_day + 0.5) * step for i in range(n)])
    fig, axes = plots.figure(WIDTH_IN, 0.5 + PANEL_IN * len(panels), len(panels), 1, margins=MARGINS, sharex=True)
    for ax, panel in zip(axes[:, 0], panels):
        low, high = np.clip(panel.low, panel.floor, panel.ceiling), np.clip(panel.high, panel.floor, panel.ceiling)
        ax.fill_between(times, low, high, color=BAND, step="mid", linewidth=0)
        for points, colour in ((panel.side, SIDE), (panel.planned, PLANNED)):
            for p in points:
                ax.axvspan(times[p] - step / 2, times[p] + step / 2, color=colour, linewidth=0, zorder=0)
        ax.plot(times, panel.values, color=LINE, linewidth=1.0)
        if first_window_day < len(days):
            ax.axvline(start[first_window_day], color=WINDOW, linewidth=1.0, linestyle="--")
        ax.set_title(panel.title, loc="left", y=1.0)  # placed, not measured against the axis' ticks
        ax.set_ylabel(panel.unit)
        finite = np.concatenate([a[np.isfinite(a)] for a in (panel.values, low, high)])
        top = finite.max() if finite.size else 1.0
        ax.set_ylim(panel.floor, min(panel.ceiling, top * 1.08 if top > panel.floor else panel.floor + 1))
    bottom = axes[-1, 0]
    bottom.set_xlim(start[0], start[-1] + timedelta(days=1))
    bottom.xaxis.set_major_locator(FixedLocator(_day_ticks(start[0], start[-1] + timedelta(days=1), len(days))))
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    fig.legend(handles=[Patch(color=BAND, label="baseline band (mean ± 3σ)"),
                        plots.line_handle(LINE, "observed on the landing files"),
                        Patch(color=PLANNED, label="planned anomaly"), Patch(color=SIDE, label="side effect"),
                        plots.line_handle(WINDOW, "anomaly window starts", linestyle="--")],
               loc="upper center", ncols=5)
    return fig


def _day_ticks(first: datetime, end: datetime, days: int) -> list[float]:
    """Every k-th midnight in [first, end] (about 11 ticks), as matplotlib dates: what `DayLocator` gives, computed
    once rather than at every draw of every panel."""
    locator = mdates.DayLocator(interval=-(-days // 11))
    low, high = mdates.date2num(first), mdates.date2num(end)
    return [t for t in locator.tick_values(first, end) if low <= t <= high]
