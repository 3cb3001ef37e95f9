"""The soak test's timeline as an SVG image: answers per second by kind, faults shaded."""

from html import escape

KINDS = [  # drawn bottom up
    ("counted", "#16a34a", "200, counted"),
    ("uncounted", "#f59e0b", "200, counter unavailable"),
    ("unavailable", "#dc2626", "503 (Retry-After)"),
    ("other", "#7c3aed", "other status"),
    ("error", "#111827", "no answer"),
]
WIDTH, HEIGHT, LEFT, TOP, BOTTOM = 900, 340, 50, 50, 60


def render(run) -> str:
    seconds = max(1, int(run.seconds + 0.999))
    buckets = [dict.fromkeys((kind for kind, _, _ in KINDS), 0) for _ in range(seconds)]
    for outcome in run.outcomes:
        second = min(seconds - 1, int(outcome.started + outcome.elapsed))
        buckets[second][outcome.kind] += 1
    highest = max((sum(bucket.values()) for bucket in buckets), default=1) or 1
    plot_width, plot_height = WIDTH - LEFT - 10, HEIGHT - TOP - BOTTOM
    x_scale, y_scale = plot_width / seconds, plot_height / highest
    bottom = TOP + plot_height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ]
    for second, bucket in enumerate(buckets):
        y = bottom
        for kind, colour, _ in KINDS:
            height = bucket[kind] * y_scale
            if height:
                y -= height
                parts.append(
                    f'<rect x="{LEFT + second * x_scale:.1f}" y="{y:.1f}" '
                    f'width="{x_scale + 0.5:.1f}" height="{height:.1f}" fill="{colour}"/>'
                )
    parts += _faults(run.faults, x_scale, plot_height)
    parts += _axes(seconds, highest, x_scale, bottom)
    parts += _legend()
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _faults(faults, x_scale: float, plot_height: float) -> list[str]:
    """Each fault as a shaded band over the bars, named above the plot."""
    parts = []
    for index, fault in enumerate(faults):
        x = LEFT + fault.started * x_scale
        width = max(2.0, (fault.ended - fault.started) * x_scale)
        label_y = 14 + (index % 2) * 14
        # Near the right edge, the name ends at its line instead of starting there.
        anchor = "end" if x > WIDTH - 160 else "start"
        parts += [
            f'<rect x="{x:.1f}" y="{TOP}" width="{width:.1f}" height="{plot_height}" '
            'fill="#374151" fill-opacity="0.2"/>',
            f'<line x1="{x:.1f}" y1="{label_y + 3}" x2="{x:.1f}" y2="{TOP}" stroke="#374151"/>',
            f'<text x="{x + 3:.1f}" y="{label_y}" text-anchor="{anchor}">'
            f"{escape(fault.name)}</text>",
        ]
    return parts


def _axes(seconds: int, highest: int, x_scale: float, bottom: float) -> list[str]:
    parts = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - 10}" y2="{bottom}" stroke="#374151"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#374151"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{highest}</text>',
        f'<text x="{LEFT - 6}" y="{bottom}" text-anchor="end">0</text>',
        f'<text x="{LEFT - 6}" y="{TOP + 16}" text-anchor="end">/s</text>',
    ]
    step = 30 if seconds > 120 else 10
    for second in range(0, seconds + 1, step):
        x = LEFT + second * x_scale
        parts.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{second} s</text>')
    return parts


def _legend() -> list[str]:
    parts = []
    y = HEIGHT - 18
    for index, (_, colour, label) in enumerate(KINDS):
        x = LEFT + index * 170
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="{y}">{escape(label)}</text>')
    return parts
