"""Server-rendered inline SVG charts: no JavaScript, no CDN, works offline and in any browser.

Every label and tooltip passes through ``escape``; the returned ``Markup`` is safe to drop into a
Jinja2 template that autoescapes everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

PALETTE = ("#3b6fd8", "#e07b39", "#2e9e6b", "#c84b7a", "#8a63d2", "#b59a2b", "#4aa3b5", "#7a7a7a")
SENTIMENT_COLOURS = {"negative": "#d64545", "neutral": "#a0a4ab", "positive": "#2e9e6b", "unknown": "#d9dce0"}


def colour_for(name: str, i: int) -> str:
    return SENTIMENT_COLOURS.get(name) or PALETTE[i % len(PALETTE)]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def _empty(title: str, width: int, height: int) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">no data yet</text></svg>'
    )


def _legend(names: Sequence[str], x: float, y: float) -> str:
    parts, offset = [], 0.0
    for i, name in enumerate(names):
        parts.append(
            f'<rect x="{x + offset:.1f}" y="{y - 9}" width="10" height="10" fill="{colour_for(name, i)}"/>'
            f'<text x="{x + offset + 14:.1f}" y="{y}" class="legend">{escape(name)}</text>'
        )
        offset += 22 + 7 * len(name)
    return "".join(parts)


def _day_ticks(days: Sequence[date], x_of: Callable[[int], float], height: int) -> str:
    """First, middle and last day under the x axis; the outer labels hug the edges so none is clipped."""
    ticks = []
    last = len(days) - 1
    for i in sorted({0, last // 2, last}):
        anchor = "start" if i == 0 and last else ("end" if i == last and last else "middle")
        ticks.append(
            f'<text x="{x_of(i):.1f}" y="{height - 8}" text-anchor="{anchor}" class="axis">{days[i].isoformat()}</text>'
        )
    return "".join(ticks)


def stacked_bars(
    title: str,
    days: Sequence[date],
    series: Mapping[str, Sequence[float]],
    width: int = 760,
    height: int = 240,
    share: bool = False,
) -> Markup:
    """One bar per day, one coloured segment per series (counts, or shares of the day when ``share``)."""
    if not days or not series:
        return _empty(title, width, height)
    names = list(series)
    totals = [sum(series[n][i] for n in names) for i in range(len(days))]
    top = 1.0 if share else _nice_max(max(totals))
    left, right, top_pad, bottom = 48, 8, 26, 28
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    step = plot_w / len(days)
    bar_w = max(step * 0.8, 1.0)
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        _legend(names, left, 14),
    ]
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        label = f"{frac:.0%}" if share else _fmt(top * frac)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="axis">{label}</text>')
    for i, day in enumerate(days):
        x = left + i * step + (step - bar_w) / 2
        base = float(top_pad + plot_h)
        for j, name in enumerate(names):
            value = series[name][i]
            if not value:
                continue
            scaled = value / totals[i] if share else value / top
            h = plot_h * scaled
            base -= h
            tip = f"{day.isoformat()} {name}: {_fmt(value)}" + (f" ({value / totals[i]:.0%})" if share else "")
            out.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour_for(name, j)}"><title>{escape(tip)}</title></rect>'
            )
    out.append(_day_ticks(days, lambda i: left + i * step + step / 2, height))
    out.append("</svg>")
    return Markup("".join(out))


def hbars(title: str, items: Sequence[tuple[str, float]], width: int = 360, row: int = 22) -> Markup:
    """Horizontal bars, largest first as given: the shape of "counts by category"."""
    height = max(row * len(items) + 8, 60)
    if not items:
        return _empty(title, width, height)
    top = max(value for _, value in items) or 1
    label_w, value_w = 130, 56
    plot_w = width - label_w - value_w
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (name, value) in enumerate(items):
        y = 4 + i * row
        w = max(plot_w * value / top, 1)
        out.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="axis">{escape(str(name)[:22])}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{colour_for(str(name), i)}">'
            f"<title>{escape(f'{name}: {_fmt(value)}')}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" class="axis">{_fmt(value)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(values: Sequence[float], width: int = 120, height: int = 28, label: str = "trend") -> Markup:
    """A tiny line of daily counts; the last point is marked."""
    if len(values) < 2:
        return Markup('<span class="muted">-</span>')
    top = max(values) or 1
    step = (width - 4) / (len(values) - 1)
    points = [(2 + i * step, height - 3 - (height - 6) * v / top) for i, v in enumerate(values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    lx, ly = points[-1]
    return Markup(
        f'<svg class="spark" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<polyline points="{path}" fill="none" stroke="#3b6fd8" stroke-width="1.5"/>'
        f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="2.2" fill="#3b6fd8"/></svg>'
    )


def lines(
    title: str, days: Sequence[date], series: Mapping[str, Sequence[float]], width: int = 760, height: int = 220
) -> Markup:
    """One line per series over days (e.g. telemetry error events per type around an incident)."""
    if not days or not series:
        return _empty(title, width, height)
    names = list(series)
    top = _nice_max(max(max(values) for values in series.values()))
    left, right, top_pad, bottom = 48, 8, 26, 28
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    step = plot_w / max(len(days) - 1, 1)
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        _legend(names, left, 14),
    ]
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="axis">{_fmt(top * frac)}</text>')
    for j, name in enumerate(names):
        pts = [(left + i * step, top_pad + plot_h * (1 - v / top)) for i, v in enumerate(series[name])]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour_for(name, j)}" stroke-width="2">'
            f"<title>{escape(name)}</title></polyline>"
        )
    out.append(_day_ticks(days, lambda i: left + i * step, height))
    out.append("</svg>")
    return Markup("".join(out))
