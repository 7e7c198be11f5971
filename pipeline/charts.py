"""The overview charts as PNG files (matplotlib, Agg backend), drawn from the document model.

Every chart also exists as a table in the document and carries alt text, so no number is only
in a picture. PNGs serve the three formats alike (DOCX cannot embed SVG portably).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from synthese import limits
from synthese.document import Chart
from synthese.storage import write_bytes

log = logging.getLogger(__name__)

DPI = 200
WIDTH_IN = 6.3  # the text width of an A4 page with 2.5 cm margins, so the PDF does not rescale
INK = "#1d2b3a"
ACCENT = "#2b5d8a"
GRID = "#d5dbe1"
# One sober hue per theme, distinct in greyscale too (light to dark alternate).
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


def _share(plt, chart: Chart):
    labels, values = chart.data["labels"][::-1], chart.data["values"][::-1]
    texts = chart.data["percent_labels"][::-1]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.42 * len(labels) + 0.7))
    # Bars at positions, labels set apart: two themes with the same label keep a bar each.
    bars = ax.barh(range(len(labels)), values, color=ACCENT, height=0.6)
    ax.set_yticks(range(len(labels)), labels)
    top = max(values + [0.05])
    for bar, text in zip(bars, texts):
        ax.text(bar.get_width() + top * 0.015, bar.get_y() + bar.get_height() / 2, text,
                va="center", fontsize=8.5)
    ax.set_xlim(0, top * 1.15)
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


def _timeline(plt, chart: Chart):
    labels, spans = chart.data["labels"][::-1], chart.data["spans"][::-1]
    colours = PALETTE[: len(labels)][::-1]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.38 * len(labels) + 0.9))
    for row, (theme_spans, colour) in enumerate(zip(spans, colours)):
        ax.broken_barh(_merged(theme_spans), (row - 0.32, 0.64), facecolors=colour, edgecolor="none")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlim(0, chart.data["duration_s"])
    ticks = chart.data["ticks"]
    ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks], fontsize=7.5)
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return fig


def _heatmap(plt, chart: Chart):
    rows, columns, values = chart.data["rows"], chart.data["columns"], chart.data["values"]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.4 * len(rows) + 1.6))
    ax.imshow(values or [[0.0] * len(columns)], cmap="Blues", vmin=0, vmax=max(0.01, *(v for r in values for v in r)),
              aspect="auto")
    ax.set_xticks(range(len(columns)), [c.replace(" ", "\n", 1) for c in columns], fontsize=7.5)
    ax.set_yticks(range(len(rows)), rows)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            ax.text(j, i, f"{round(value * 100)}", ha="center", va="center", fontsize=7.5,
                    color="white" if value > 0.5 * max(max(r) for r in values) else INK)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    return fig


DRAWERS = {"share": _share, "timeline": _timeline, "heatmap": _heatmap}


def chart_png(chart: Chart) -> bytes:
    """The chart drawn as PNG bytes."""
    chart = limits.xml_safe(chart)  # a control character has no glyph
    plt = _pyplot()
    fig = DRAWERS[chart.kind](plt, chart)
    try:
        fig.tight_layout()
        buffer = io.BytesIO()
        # Fixed metadata keeps the file identical from one run to the next.
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def write_charts(charts: list[Chart], out_dir: Path) -> list[Path]:
    """Write each chart as `out_dir/<chart.image>` (atomically); return the paths."""
    paths = []
    for chart in charts:
        path = write_bytes(out_dir / chart.image, chart_png(chart))
        log.debug("chart %s written", path)
        paths.append(path)
    return paths
