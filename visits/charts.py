"""Bar charts drawn on the server, as numbers an SVG template places."""

import math
from dataclasses import dataclass

WIDTH = 720
HEIGHT = 240
# The labels' largest font size in the chart's units: page.css sets 12 on wide
# screens and this on phones, where the chart is drawn at about 40% of its size.
LABEL_SIZE = 24
# A label's width is guessed, never measured: per character, a share of the font
# size a little over DejaVu Sans', the widest of the common sans-serif fonts.
NARROW_CHARACTERS = " .,:;'-/"
NARROW_WIDTH = 0.4
DIGIT_WIDTH = 0.65
LETTER_WIDTH = 0.75
GAP = 6
TOP = LABEL_SIZE // 2 + GAP  # room above the highest tick for its label
AXIS = LABEL_SIZE + 2 * GAP  # room under the bars for theirs
MOST_TICKS = 4  # intervals on the value axis, at most


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
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    ticks: list[Tick]
    left: float  # where the bars and the grid lines start; the ticks' labels end GAP before
    right: float
    width: int = WIDTH
    height: int = HEIGHT
    top: int = TOP
    baseline: int = HEIGHT - AXIS
    label_y: int = HEIGHT - GAP - LABEL_SIZE // 4  # the bars' labels' baseline
    peak: int = 0

    @property
    def tick_label_x(self) -> float:
        return round(self.left - GAP, 1)


def label_width(label: str) -> float:
    """A label's width in the chart's units at LABEL_SIZE, guessed on the wide side."""
    shares = (
        NARROW_WIDTH
        if character in NARROW_CHARACTERS
        else DIGIT_WIDTH
        if character.isdigit()
        else LETTER_WIDTH
        for character in label
    )
    return round(sum(shares) * LABEL_SIZE, 1)


def scale_ticks(peak: int) -> list[int]:
    """Round values (steps of 1, 2 or 5 times a power of ten) from 0 to peak or just above."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if math.ceil(peak / step) <= MOST_TICKS:
                return list(range(0, max(math.ceil(peak / step), 1) * step + 1, step))
        magnitude *= 10


def bar_chart(points: list[tuple[str, int]], *, label_every: int = 1) -> BarChart:
    """
    One bar per (label, value) over a value axis of round ticks. Every
    label_every-th label, counted from the last, is printed under its bar, or
    fewer where they would overlap; none reaches past the chart's edges.
    """
    peak = max((value for _, value in points), default=0)
    ticks = scale_ticks(peak)
    scale_top = ticks[-1]
    left = round(max(label_width(str(value)) for value in ticks) + 2 * GAP, 1)
    count = max(len(points), 1)
    last = label_width(points[-1][0]) + GAP if points else 0
    # The last bar's label is centred half a slot from the right edge: the margin
    # that leaves room for its other half (and GAP / 2, for rounding), solved for
    # the slot it makes narrower.
    margin = max(0.0, (last * count - (WIDTH - left)) / (2 * count - 1))
    right = round(WIDTH - margin, 1)
    slot = (right - left) / count
    widest = max((label_width(label) for label, _ in points), default=0)
    label_every = max(label_every, math.ceil((widest + GAP) / slot))
    drawable = HEIGHT - AXIS - TOP

    def bar(index: int, label: str, value: int) -> Bar:
        x = round(left + index * slot + slot * 0.1, 1)
        width = round(slot * 0.8, 1)
        height = round(value / scale_top * drawable, 1)
        return Bar(
            x=x,
            y=round(HEIGHT - AXIS - value / scale_top * drawable, 1),
            width=width,
            height=height,
            label=label,
            value=value,
            show_label=(
                (len(points) - 1 - index) % label_every == 0
                and x + width / 2 - label_width(label) / 2 >= left
            ),
        )

    return BarChart(
        bars=[bar(index, label, value) for index, (label, value) in enumerate(points)],
        ticks=[
            Tick(value, round(HEIGHT - AXIS - value / scale_top * drawable, 1)) for value in ticks
        ],
        left=left,
        right=right,
        peak=peak,
    )
