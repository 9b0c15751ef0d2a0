"""Server-rendered SVG bar charts for services/statistics' tables: no script, no CDN, nothing a CSP must allow.

Only geometry lives here; the template draws it. Suppressed cells ("<5") get no bar, only their text, so the
chart never shows more than the table does.
"""
from dataclasses import dataclass

# Okabe–Ito palette, darkened where needed for ≥ 3:1 against white (WCAG 1.4.11, graphical objects).
PALETTE = ("#0b63a5", "#c2410c", "#047857", "#7e22ce", "#b45309", "#be123c", "#4d7c0f", "#334155")
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 56


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    text: str
    title: str


def _nice_max(value):
    if value <= 0:
        return 1
    for step in (1, 2, 2.5, 5, 10):
        magnitude = 10 ** (len(str(int(value))) - 1)
        if step * magnitude >= value:
            return step * magnitude
    return value


def geometry(chart):
    """The bars, axis ticks and category labels of `chart` (a statistics.Chart), in SVG user units."""
    plotted = [i for i, s in enumerate(chart.series) if s.plot]
    values = [cells[i].value for _label, cells in chart.rows for i in plotted if cells[i].value is not None]
    top = _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(1, len(chart.rows))
    bar_w = group_w * 0.8 / max(1, len(plotted))
    bars, categories = [], []
    for g, (label, cells) in enumerate(chart.rows):
        x0 = LEFT + g * group_w + group_w * 0.1
        categories.append({"x": LEFT + g * group_w + group_w / 2, "text": str(label)})
        for k, i in enumerate(plotted):
            cell = cells[i]
            height = 0 if cell.value is None else plot_h * cell.value / top
            bars.append(Bar(x=round(x0 + k * bar_w, 2), y=round(TOP + plot_h - height, 2), width=round(bar_w * 0.9, 2),
                            height=round(height, 2), color=PALETTE[k % len(PALETTE)], text=cell.text,
                            title=f"{label}, {chart.series[i].label}: {cell.text}"))
    ticks = [{"y": round(TOP + plot_h - plot_h * f, 2), "text": f"{top * f:g}"} for f in (0, 0.25, 0.5, 0.75, 1)]
    legend = [{"color": PALETTE[k % len(PALETTE)], "text": str(chart.series[i].label)} for k, i in enumerate(plotted)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "base": TOP + plot_h,
            "bars": bars, "ticks": ticks, "categories": categories, "legend": legend,
            "rotate": len(chart.rows) > 8 or max((len(c["text"]) for c in categories), default=0) > 12}
