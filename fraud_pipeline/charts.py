"""A small raster chart: stacked time-series panels with a baseline band and marked batches, as PNG.

The client's package list has no plotting library, and the picture needs little: lines, shaded
spans and short upper-case labels (a 3×5 pixel font). Rendering is numpy array slicing; the PNG
is written with zlib, byte for byte the same for the same input.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

FONT = {  # 3×5 glyphs: five rows of three pixels, top to bottom
    "A": ".#. #.# ### #.# #.#", "B": "##. #.# ##. #.# ##.", "C": ".## #.. #.. #.. .##", "D": "##. #.# #.# #.# ##.",
    "E": "### #.. ##. #.. ###", "F": "### #.. ##. #.. #..", "G": ".## #.. #.# #.# .##", "H": "#.# #.# ### #.# #.#",
    "I": "### .#. .#. .#. ###", "J": "..# ..# ..# #.# .#.", "K": "#.# #.# ##. #.# #.#", "L": "#.. #.. #.. #.. ###",
    "M": "#.# ### ### #.# #.#", "N": "##. #.# #.# #.# #.#", "O": ".#. #.# #.# #.# .#.", "P": "##. #.# ##. #.. #..",
    "Q": ".#. #.# #.# ##. .##", "R": "##. #.# ##. #.# #.#", "S": ".## #.. .#. ..# ##.", "T": "### .#. .#. .#. .#.",
    "U": "#.# #.# #.# #.# ###", "V": "#.# #.# #.# #.# .#.", "W": "#.# #.# ### ### #.#", "X": "#.# #.# .#. #.# #.#",
    "Y": "#.# #.# .#. .#. .#.", "Z": "### ..# .#. #.. ###", "0": "### #.# #.# #.# ###", "1": ".#. ##. .#. .#. ###",
    "2": "##. ..# .#. #.. ###", "3": "##. ..# .#. ..# ##.", "4": "#.# #.# ### ..# ..#", "5": "### #.. ##. ..# ##.",
    "6": ".## #.. ### #.# ###", "7": "### ..# .#. .#. .#.", "8": "### #.# ### #.# ###", "9": "### #.# ### ..# ##.",
    "_": "... ... ... ... ###", ".": "... ... ... ... .#.", "-": "... ... ### ... ...", ":": "... .#. ... .#. ...",
    "(": "..# .#. .#. .#. ..#", ")": "#.. .#. .#. .#. #..", "/": "..# ..# .#. #.. #..", "%": "#.# ..# .#. #.. #.#",
    "@": ".#. #.# ### #.. .##", " ": "... ... ... ... ...",
}
SCALE = 2  # pixels per font pixel
WHITE, BAND, LINE, GRID, SPLIT, TEXT = (255, 255, 255), (222, 222, 222), (30, 60, 160), (238, 238, 238), \
    (110, 110, 110), (40, 40, 40)
PLANNED, SIDE = (255, 190, 190), (255, 228, 196)
POINT_WIDTH, PLOT_HEIGHT, TITLE_HEIGHT, GAP, MARGIN = 8, 84, 16, 10, 12


@dataclass(frozen=True)
class Panel:
    title: str
    values: np.ndarray   # one per point; NaN where missing
    low: np.ndarray      # the baseline band
    high: np.ndarray
    planned: np.ndarray  # point indices the panel's metric is planned to move
    side: np.ndarray     # point indices it moves as a side effect


def text(canvas: np.ndarray, x: int, y: int, label: str, colour=TEXT) -> None:
    for i, char in enumerate(label.upper()):
        glyph = FONT.get(char, FONT[" "]).replace(" ", "")
        bits = np.array([c == "#" for c in glyph]).reshape(5, 3).repeat(SCALE, 0).repeat(SCALE, 1)
        left = x + i * 4 * SCALE
        region = canvas[y:y + 5 * SCALE, left:left + 3 * SCALE]
        if region.shape[:2] == bits.shape:
            region[bits] = colour


def _spans(canvas, top, points: np.ndarray, colour, x0) -> None:
    for p in points:
        canvas[top:top + PLOT_HEIGHT, x0 + p * POINT_WIDTH:x0 + (p + 1) * POINT_WIDTH] = colour


def render(panels: list[Panel], points_per_day: int, first_marked_day: int, day_labels: list[str]) -> bytes:
    """Panels stacked vertically over the same points; a darker line before `first_marked_day`."""
    n = len(panels[0].values)
    width = 2 * MARGIN + n * POINT_WIDTH + 80
    height = MARGIN + len(panels) * (TITLE_HEIGHT + PLOT_HEIGHT + GAP) + 14
    canvas = np.full((height, width, 3), WHITE, np.uint8)
    x0 = MARGIN
    for index, panel in enumerate(panels):
        top = MARGIN + index * (TITLE_HEIGHT + PLOT_HEIGHT + GAP)
        text(canvas, x0, top, panel.title)
        top += TITLE_HEIGHT
        finite = np.concatenate([a[np.isfinite(a)] for a in (panel.values, panel.low, panel.high)])
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        floor = 0.0 if lo >= 0 else -np.inf  # a non-negative metric keeps a zero floor
        lo, hi = (lo - 0.5, hi + 0.5) if hi - lo < 1e-12 else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        lo = max(lo, floor)
        y = lambda v: np.clip(np.round(top + PLOT_HEIGHT - 1 - (v - lo) / (hi - lo) * (PLOT_HEIGHT - 1)),  # noqa: E731
                              top, top + PLOT_HEIGHT - 1)
        for day in range(0, n, points_per_day):
            canvas[top:top + PLOT_HEIGHT, x0 + day * POINT_WIDTH] = GRID
        _spans(canvas, top, panel.side, SIDE, x0)
        _spans(canvas, top, panel.planned, PLANNED, x0)
        for p in range(n):
            if np.isfinite(panel.low[p]) and np.isfinite(panel.high[p]):
                a, b = int(y(panel.high[p])), int(y(panel.low[p]))
                left = x0 + p * POINT_WIDTH
                canvas[a:b + 1, left:left + POINT_WIDTH][np.all(canvas[a:b + 1, left:left + POINT_WIDTH] == WHITE,
                                                                axis=-1)] = BAND
        split = x0 + first_marked_day * points_per_day * POINT_WIDTH
        canvas[top:top + PLOT_HEIGHT, split] = SPLIT
        previous = None
        for p in range(n):
            if not np.isfinite(panel.values[p]):
                previous = None
                continue
            level = int(y(panel.values[p]))
            left = x0 + p * POINT_WIDTH
            canvas[level:level + 2, left:left + POINT_WIDTH] = LINE
            if previous is not None:
                canvas[min(previous, level):max(previous, level) + 2, left:left + 2] = LINE
            previous = level
        text(canvas, x0 + n * POINT_WIDTH + 6, top, _number(hi))
        text(canvas, x0 + n * POINT_WIDTH + 6, top + PLOT_HEIGHT - 5 * SCALE, _number(lo))
    bottom = height - 12
    for day, label in enumerate(day_labels):
        text(canvas, x0 + day * points_per_day * POINT_WIDTH + 2, bottom, label)
    return png(canvas)


def _number(value: float) -> str:
    return f"{value:.3g}".replace("+", "")


def png(rgb: np.ndarray) -> bytes:
    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, width * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) \
        + chunk(b"IEND", b"")
