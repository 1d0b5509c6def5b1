"""Small server-side SVG charts for the usage pages (no JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def _short(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:g}" if value != int(value) else str(int(value))


def bar_chart(points: Sequence[tuple[str, float]], *, title: str, width: int = 560, height: int = 170) -> Markup:
    """Bars for (label, value) points with the maximum on the axis and the first and last labels below."""
    left, bottom, top = 44, 22, 10
    plot_w, plot_h = width - left - 6, height - bottom - top
    peak = max((v for _, v in points), default=0) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 6}" y2="{top + plot_h}" class="axis"/>',
        f'<text x="{left - 4}" y="{top + 8}" class="tick" text-anchor="end">{escape(_short(peak))}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" class="tick" text-anchor="end">0</text>',
    ]
    if points:
        step = plot_w / len(points)
        bar = max(1.0, step * 0.8)
        for i, (label, value) in enumerate(points):
            h = plot_h * (value / peak)
            x = left + i * step + (step - bar) / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" class="bar">'
                f"<title>{escape(label)}: {escape(_short(value))}</title></rect>"
            )
        parts.append(f'<text x="{left}" y="{height - 6}" class="tick">{escape(points[0][0])}</text>')
        if len(points) > 1:
            parts.append(
                f'<text x="{width - 6}" y="{height - 6}" class="tick" text-anchor="end">{escape(points[-1][0])}</text>'
            )
    else:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" class="tick" text-anchor="middle">no data</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
