"""Charts as inline SVG: a report that is one self-contained HTML file, no scripts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2f6fdf", "#e8833a", "#2a9d5c", "#b84fc4", "#c9302c", "#6c757d")


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def bars(
    title: str, categories: Sequence[str], series: Mapping[str, Sequence[float]], unit: str = "%"
) -> str:
    """Grouped horizontal bars, values in [0, 1] shown as percentages (one group a category)."""
    names = list(series)
    row_h, bar_h, left, width = 14 * max(1, len(names)) + 10, 12, 170, 640
    height = 40 + row_h * len(categories) + 20 * len(names)
    plot_w = width - left - 60
    parts = [f'<text x="{left}" y="16" class="t">{escape(title)}</text>']
    for i, cat in enumerate(categories):
        y0 = 28 + i * row_h
        parts.append(
            f'<text x="{left - 8}" y="{y0 + row_h / 2}" class="l" '
            f'text-anchor="end">{escape(cat)}</text>'
        )
        for j, name in enumerate(names):
            v = series[name][i]
            w = 0.0 if math.isnan(v) else max(0.0, min(1.0, v)) * plot_w
            y = y0 + j * (bar_h + 2)
            color = PALETTE[j % len(PALETTE)]
            shown = "n/a" if math.isnan(v) else f"{v * 100:.0f}{unit}"
            parts.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{color}"><title>{escape(name)}: {shown}</title></rect>'
            )
            parts.append(
                f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 2}" class="v">{shown}</text>'
            )
    ly = 34 + row_h * len(categories)
    for j, name in enumerate(names):
        parts.append(
            f'<rect x="{left}" y="{ly + 20 * j}" width="12" height="12" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
        )
        parts.append(
            f'<text x="{left + 18}" y="{ly + 20 * j + 11}" class="l">{escape(name)}</text>'
        )
    return _svg(width, height, "".join(parts), title)


def confusion_matrix(title: str, matrix: dict[str, dict[str, int]], order: Sequence[str]) -> str:
    """Expected (rows) against decided (columns); diagonal green, the rest red by count."""
    labels = [x for x in order if x in matrix or any(x in r for r in matrix.values())]
    labels += sorted({*matrix, *(k for r in matrix.values() for k in r)} - set(labels))
    cell, left, top = 68, 120, 60
    size = len(labels)
    width, height = left + cell * size + 20, top + cell * size + 30
    peak = max([v for r in matrix.values() for v in r.values()] or [1])
    parts = [
        f'<text x="8" y="16" class="t">{escape(title)}</text>',
        f'<text x="{left + cell * size / 2}" y="36" class="l" text-anchor="middle">decided</text>',
        f'<text x="16" y="{top + cell * size / 2}" class="l" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + cell * size / 2})">expected</text>',
    ]
    for i, name in enumerate(labels):
        parts.append(
            f'<text x="{left + i * cell + cell / 2}" y="{top - 6}" class="l" '
            f'text-anchor="middle">{escape(name)}</text>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{top + i * cell + cell / 2 + 4}" class="l" '
            f'text-anchor="end">{escape(name)}</text>'
        )
    for i, want in enumerate(labels):
        for j, got in enumerate(labels):
            n = matrix.get(want, {}).get(got, 0)
            alpha = 0.08 + 0.85 * (n / peak) if n else 0.03
            rgb = "42,157,92" if i == j else "201,48,44"
            x, y = left + j * cell, top + i * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="rgba({rgb},{alpha:.2f})"><title>expected {escape(want)}, decided '
                f"{escape(got)}: {n}</title></rect>"
            )
            parts.append(
                f'<text x="{x + cell / 2 - 1}" y="{y + cell / 2 + 4}" class="v" '
                f'text-anchor="middle">{n}</text>'
            )
    return _svg(width, height, "".join(parts), title)


def histogram(title: str, series: Mapping[str, Sequence[float]], bins: int = 12) -> str:
    """Latency distribution: counts per bin, one outline per model, on a log-free axis."""
    values = [v for vs in series.values() for v in vs]
    width, height, left, bottom, top = 640, 240, 50, 200, 30
    parts = [f'<text x="{left}" y="16" class="t">{escape(title)}</text>']
    if not values:
        parts.append(f'<text x="{left}" y="60" class="l">no cases</text>')
        return _svg(width, height, "".join(parts), title)
    hi = max(values) or 1.0
    step = hi / bins
    plot_w = width - left - 20
    counts = {name: [0] * bins for name in series}
    for name, vs in series.items():
        for v in vs:
            counts[name][min(bins - 1, int(v / step))] += 1
    peak = max(max(c) for c in counts.values()) or 1
    bar_w = plot_w / bins / max(1, len(series))
    for j, (name, cs) in enumerate(counts.items()):
        color = PALETTE[j % len(PALETTE)]
        for i, n in enumerate(cs):
            h = (bottom - top) * n / peak
            x = left + i * plot_w / bins + j * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bar_w - 1:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(name)}: {n} cases '
                f"in {i * step:.2f}-{(i + 1) * step:.2f} s</title></rect>"
            )
        parts.append(
            f'<rect x="{width - 150}" y="{top + 18 * j}" width="12" height="12" '
            f'fill="{color}"/><text x="{width - 132}" y="{top + 18 * j + 11}" '
            f'class="l">{escape(name)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" stroke="#555"/>'
    )
    for i in range(0, bins + 1, 3):
        x = left + i * plot_w / bins
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" class="v" '
            f'text-anchor="middle">{i * step:.1f}s</text>'
        )
    parts.append(f'<text x="{left - 8}" y="{top + 8}" class="v" text-anchor="end">{peak}</text>')
    return _svg(width, height, "".join(parts), title)
