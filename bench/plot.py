"""The benchmark's figures as one SVG image: throughput and latency per concurrency level."""

import statistics
from html import escape

COLOURS = {
    "visits": "#2563eb",
    "ceiling": "#9ca3af",
    "typical": "#16a34a",
    "exercise": "#dc2626",
}
PANEL_WIDTH, PANEL_HEIGHT, MARGIN = 420, 260, 50


def render(runs) -> str:
    implementations = [name for name in COLOURS if any(r.implementation == name for r in runs)]
    levels = sorted({run.connections for run in runs})
    panels = [
        ("Throughput (requests/s, higher is better)", "requests_per_second", "{:.0f}"),
        ("Latency p50 (ms, lower is better); tick: p99", "p50_ms", "{:.1f}"),
    ]
    width = 2 * (PANEL_WIDTH + MARGIN) + MARGIN
    height = PANEL_HEIGHT + 2 * MARGIN + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for index, (title, metric, label) in enumerate(panels):
        left = MARGIN + index * (PANEL_WIDTH + MARGIN)
        parts += _panel(runs, implementations, levels, left, title, metric, label)
    legend_y = height - 18
    for index, name in enumerate(implementations):
        x = MARGIN + index * 160
        parts.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{COLOURS[name]}"/>'
        )
        parts.append(f'<text x="{x + 18}" y="{legend_y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _median(runs, implementation, connections, metric) -> float:
    values = [
        getattr(run, metric)
        for run in runs
        if run.implementation == implementation and run.connections == connections
    ]
    return statistics.median(values) if values else 0.0


def _panel(runs, implementations, levels, left, title, metric, label) -> list[str]:
    top, bottom = MARGIN, MARGIN + PANEL_HEIGHT
    values = {
        (name, level): _median(runs, name, level, metric)
        for name in implementations
        for level in levels
    }
    ticks = {
        (name, level): _median(runs, name, level, "p99_ms")
        for name in implementations
        for level in levels
    }
    highest = max([*values.values(), *(ticks.values() if metric == "p50_ms" else [])], default=1)
    scale = (PANEL_HEIGHT - 20) / (highest or 1)
    group_width = PANEL_WIDTH / max(len(levels), 1)
    bar_width = (group_width - 20) / max(len(implementations), 1)
    parts = [
        f'<text x="{left}" y="{top - 18}" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{bottom}" x2="{left + PANEL_WIDTH}" y2="{bottom}" stroke="#333"/>',
    ]
    for group, level in enumerate(levels):
        group_left = left + group * group_width + 10
        parts.append(
            f'<text x="{group_left + (group_width - 20) / 2}" y="{bottom + 16}" '
            f'text-anchor="middle">{level} client{"s" if level != 1 else ""}</text>'
        )
        for position, name in enumerate(implementations):
            value = values[(name, level)]
            x = group_left + position * bar_width
            bar_height = value * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{bottom - bar_height:.1f}" width="{bar_width - 2:.1f}" '
                f'height="{bar_height:.1f}" fill="{COLOURS[name]}"/>'
            )
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{bottom - bar_height - 3:.1f}" '
                f'text-anchor="middle" font-size="9">{label.format(value)}</text>'
            )
            if metric == "p50_ms":
                tick_y = bottom - ticks[(name, level)] * scale
                parts.append(
                    f'<line x1="{x:.1f}" y1="{tick_y:.1f}" x2="{x + bar_width - 2:.1f}" '
                    f'y2="{tick_y:.1f}" stroke="{COLOURS[name]}" stroke-width="2"/>'
                )
    return parts
