"""The overview charts as PNG files (matplotlib, Agg backend), drawn from the document model.

Every chart also exists as a table in the document and carries alt text, so no number is only
in a picture. PNGs serve the three formats alike (DOCX cannot embed SVG portably). Each chart is
also drawn at a phone's width (`Chart.image_narrow`, labels wrapped), which the HTML page and the
site show on narrow screens so that its labels stay readable.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import textwrap
from pathlib import Path

from ..core import limits
from ..core.storage import file_hash, hash_of, write_bytes
from .document import Chart

log = logging.getLogger(__name__)

DPI = 200
WIDTH_IN = 6.3  # the text width of an A4 page with 2.5 cm margins, so the PDF does not rescale
NARROW_WIDTH_IN = 3.6  # shown about 350 px wide on a phone: 9 pt text stays about 11 px high
NARROW_LABEL_CHARS = 16
INK = "#1d2b3a"
ACCENT = "#2b5d8a"
GRID = "#d5dbe1"
MUTED = "#6b7785"  # time without a theme: grey, 4.6:1 on white
# One sober hue per theme, distinct in greyscale too (light to dark alternate).
HEAT_SCALE_TOP = 0.58  # of the Blues scale: its colour there has a luminance of 0.30
PALETTE = ["#2b5d8a", "#b5651d", "#5b8c5a", "#7a4e8c", "#a33b3b", "#3f8a8c", "#8c7a3f", "#555555"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.edgecolor": GRID,
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
        "text.color": INK,
        "svg.fonttype": "none",
        # Labels are staff's text, drawn as written: never TeX, never mathtext ("5 $ et 10 $"
        # would be read as a formula, and "$\\x$" would stop the render).
        "text.usetex": False,
        "text.parse_math": False,
    })
    return plt


def _wrap(labels: list[str], narrow: bool, width: int = NARROW_LABEL_CHARS) -> list[str]:
    return ["\n".join(textwrap.wrap(label, width, break_long_words=False, break_on_hyphens=False)) or label
            for label in labels] if narrow else labels


def _share(plt, chart: Chart, narrow: bool = False):
    labels, values = _wrap(chart.data["labels"][::-1], narrow), chart.data["values"][::-1]
    texts = chart.data["percent_labels"][::-1]
    row_in = 0.55 if narrow else 0.42
    fig, ax = plt.subplots(figsize=(NARROW_WIDTH_IN if narrow else WIDTH_IN, row_in * len(labels) + 0.7))
    # Bars at positions, labels set apart: two themes with the same label keep a bar each.
    colours = [ACCENT] * len(values)
    if chart.data.get("muted_last") and colours:  # "Sans thème": drawn apart from the themes
        colours[0] = MUTED  # (reversed: the last label is drawn first, at the bottom)
    bars = ax.barh(range(len(labels)), values, color=colours, height=0.6)
    ax.set_yticks(range(len(labels)), labels)
    # Every bar on the scale of the whole session: 100 % is the full width, marked by a line.
    for bar, text in zip(bars, texts):
        ax.text(bar.get_width() + 0.015, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8.5)
    ax.axvline(1.0, color=GRID, linewidth=0.8, zorder=0)
    ax.set_xlim(0, 1.3 if narrow else 1.15)
    ax.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return fig


def _merged(spans: list[tuple[float, float]], gap_s: float = 1.0) -> list[tuple[float, float]]:
    """Join passages that follow each other, so a run of them reads as one bar."""
    merged: list[list[float]] = []
    for start, width in sorted(spans):
        if merged and start - (merged[-1][0] + merged[-1][1]) <= gap_s:
            merged[-1][1] = max(merged[-1][1], start + width - merged[-1][0])
        else:
            merged.append([start, width])
    return [(a, w) for a, w in merged]


def _timeline(plt, chart: Chart, narrow: bool = False):
    labels, spans = _wrap(chart.data["labels"][::-1], narrow), chart.data["spans"][::-1]
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    if chart.data.get("muted_last") and colours:
        colours[-1] = MUTED
    colours = colours[::-1]
    row_in = 0.5 if narrow else 0.38
    fig, ax = plt.subplots(figsize=(NARROW_WIDTH_IN if narrow else WIDTH_IN, row_in * len(labels) + 0.9))
    for row, (theme_spans, colour) in enumerate(zip(spans, colours)):
        ax.broken_barh(_merged(theme_spans), (row - 0.32, 0.64), facecolors=colour, edgecolor="none")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlim(0, chart.data["duration_s"])
    ticks = chart.data["ticks"]
    if narrow and len(ticks) > 4:  # every other round time, so the labels do not touch
        ticks = ticks[::2]
    ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks], fontsize=7.5)
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return fig


def _luminance(rgb: tuple[float, ...]) -> float:
    """Relative luminance (WCAG 2.1) of an sRGB colour given as 0..1 floats."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_colour_on(rgb: tuple[float, ...]) -> str:
    """INK or white, whichever contrasts more with the cell colour."""
    ink = tuple(int(INK[i:i + 2], 16) / 255 for i in (1, 3, 5))
    background = _luminance(rgb)
    on_ink = (max(background, _luminance(ink)) + 0.05) / (min(background, _luminance(ink)) + 0.05)
    on_white = (1.05) / (background + 0.05)
    return INK if on_ink >= on_white else "white"


def heat_colormap():
    """The light part of matplotlib's Blues: dark text reads at least 4.5:1 on every cell (the
    mid-blues of the full scale reach that contrast neither with dark nor with white text)."""
    import matplotlib
    import numpy as np
    from matplotlib.colors import ListedColormap

    return ListedColormap(matplotlib.colormaps["Blues"](np.linspace(0.0, HEAT_SCALE_TOP, 256)), name="BluesLight")


def _heatmap(plt, chart: Chart, narrow: bool = False):
    rows, columns, values = chart.data["rows"], chart.data["columns"], chart.data["values"]
    width = NARROW_WIDTH_IN if narrow else WIDTH_IN
    fig, ax = plt.subplots(figsize=(width, 0.45 * len(rows) + (2.4 if narrow else 1.9)))
    # On the scale of the whole session: a pale cell is a small share, whatever the others.
    image = ax.imshow(values or [[0.0] * len(columns)], cmap=heat_colormap(), vmin=0, vmax=1, aspect="auto")
    column_labels = _wrap(columns, True, 11 if narrow else 14)
    ax.set_xticks(range(len(columns)), column_labels, fontsize=7 if narrow else 7.5,
                  rotation=90 if narrow else 0)
    ax.set_yticks(range(len(rows)), rows)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            ax.text(j, i, f"{round(value * 100)}\u202f%", ha="center", va="center", fontsize=7 if narrow else 7.5,
                    color=text_colour_on(image.cmap(image.norm(value))))
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    legend = fig.colorbar(image, ax=ax, orientation="horizontal", fraction=0.06, pad=0.32 if narrow else 0.2,
                          format=lambda x, _: f"{round(x * 100)}\u202f%")
    legend.set_label(chart.data.get("legend", ""), fontsize=7.5)
    legend.ax.tick_params(labelsize=7)
    legend.outline.set_visible(False)
    return fig


DRAWERS = {"share": _share, "timeline": _timeline, "heatmap": _heatmap}


# The PNG text chunk that records what a chart was drawn from: a review edit that changes no
# chart's data (an excerpt pinned or excluded, a key message) leaves its file as it is, which
# spares matplotlib about half a second per chart.
DRAWN_FROM = "Synthese-Drawn-From"


def drawing_key(chart: Chart, *, narrow: bool = False) -> str:
    """What a chart's image depends on: its data and wording, its width, and this drawing code."""
    return hash_of(dataclasses.asdict(chart), narrow, DPI, _drawing_code())


@functools.lru_cache(maxsize=1)
def _drawing_code() -> str:
    return file_hash(Path(__file__))


def chart_png(chart: Chart, *, narrow: bool = False) -> bytes:
    """The chart drawn as PNG bytes (at a phone's width with `narrow`)."""
    key = drawing_key(chart, narrow=narrow)
    chart = limits.xml_safe(chart)  # a control character has no glyph
    plt = _pyplot()
    fig = DRAWERS[chart.kind](plt, chart, narrow)
    try:
        fig.tight_layout()
        buffer = io.BytesIO()
        # Fixed metadata keeps the file identical from one run to the next.
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None, DRAWN_FROM: key}, facecolor="white")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _drawn_already(path: Path, key: str) -> bool:
    """The file is a chart drawn from the same data by the same code (its PNG text says so)."""
    from PIL import Image

    if path.is_symlink() or not path.is_file():
        return False
    try:
        with Image.open(path) as image:
            return getattr(image, "text", {}).get(DRAWN_FROM) == key
    except (OSError, ValueError, SyntaxError):
        return False


def write_charts(charts: list[Chart], out_dir: Path) -> list[Path]:
    """Write each chart as `out_dir/<chart.image>` (and its narrow drawing), atomically, unless
    the file there was drawn from the same data already; return the paths."""
    paths = []
    for chart in charts:
        for name, narrow in ((chart.image, False), (chart.image_narrow, True)):
            if not name:
                continue
            path = out_dir / name
            if _drawn_already(path, drawing_key(chart, narrow=narrow)):
                log.debug("chart %s unchanged", path)
            else:
                write_bytes(path, chart_png(chart, narrow=narrow))
                log.debug("chart %s written", path)
            paths.append(path)
    return paths
