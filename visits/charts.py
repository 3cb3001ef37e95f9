"""Bar charts drawn on the server, as numbers an SVG template places."""

from dataclasses import dataclass

WIDTH = 720
HEIGHT = 220
AXIS = 24  # room under the bars for the labels
TOP = 16  # room above the tallest bar for its value


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    show_label: bool

    @property
    def middle(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = HEIGHT - AXIS
    peak: int = 0


def bar_chart(points: list[tuple[str, int]], *, label_every: int = 1) -> BarChart:
    """One bar per (label, value); every label_every-th label is printed under its bar."""
    peak = max((value for _, value in points), default=0)
    drawable = HEIGHT - AXIS - TOP
    slot = WIDTH / max(len(points), 1)
    bars = [
        Bar(
            x=round(index * slot + slot * 0.1, 1),
            y=round(HEIGHT - AXIS - (value / peak * drawable if peak else 0), 1),
            width=round(slot * 0.8, 1),
            height=round(value / peak * drawable if peak else 0, 1),
            label=label,
            value=value,
            show_label=(len(points) - 1 - index) % label_every == 0,
        )
        for index, (label, value) in enumerate(points)
    ]
    return BarChart(bars=bars, peak=peak)
