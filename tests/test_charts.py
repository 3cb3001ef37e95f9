"""visits/charts.py: the bar charts' geometry, as numbers; no services."""

import itertools

import pytest

from visits.charts import GAP, WIDTH, Bar, BarChart, Tick, bar_chart, label_width, scale_ticks


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (4, [0, 1, 2, 3, 4]),
        (5, [0, 2, 4, 6]),
        (10, [0, 5, 10]),
        (52, [0, 20, 40, 60]),
        (100, [0, 50, 100]),
        (640, [0, 200, 400, 600, 800]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_scale_ticks_are_at_most_four_round_steps_from_zero_to_the_peak_or_above(peak, ticks):
    assert scale_ticks(peak) == ticks


def test_label_width_counts_digits_narrow_characters_and_letters_apart():
    assert label_width("19:00") == 72.0  # (4 * 0.65 + 0.4) * 24
    assert label_width("27 Nov") == 94.8  # (2 * 0.65 + 0.4 + 3 * 0.75) * 24
    assert label_width("") == 0.0


def test_bar_chart_scales_the_top_tick_to_the_drawable_height_and_labels_every_nth_from_the_end():
    chart = bar_chart([("a", 0), ("b", 5), ("c", 10)], label_every=2)

    assert chart == BarChart(
        bars=[
            Bar(x=65.8, y=204.0, width=180.5, height=0.0, label="a", value=0, show_label=True),
            Bar(x=291.4, y=111.0, width=180.5, height=93.0, label="b", value=5, show_label=False),
            Bar(x=517.0, y=18.0, width=180.5, height=186.0, label="c", value=10, show_label=True),
        ],
        ticks=[Tick(value=0, y=204.0), Tick(value=5, y=111.0), Tick(value=10, y=18.0)],
        left=43.2,  # the widest tick label, "10", is 31.2 wide, then GAP on either side
        right=720.0,
        width=720,
        height=240,
        top=18,
        baseline=204,
        label_y=228,
        peak=10,
    )
    assert chart.tick_label_x == 37.2
    assert [bar.middle for bar in chart.bars] == [156.1, 381.6, 607.2]


def test_bar_chart_below_a_round_peak_reaches_the_height_of_its_value_on_the_scale():
    chart = bar_chart([(str(n), n) for n in range(1, 8)])

    first, last = chart.bars[0], chart.bars[-1]
    assert [tick.value for tick in chart.ticks] == [0, 2, 4, 6, 8]
    assert [tick.y for tick in chart.ticks] == [204.0, 157.5, 111.0, 64.5, 18.0]
    assert (first.x, first.y, first.width, first.height) == (37.5, 180.8, 79.1, 23.2)
    assert (last.x, last.y, last.width, last.height) == (631.0, 41.2, 79.1, 162.8)
    assert first.middle == 77.0  # from the rounded x and width: 37.5 + 79.1 / 2
    assert [bar.show_label for bar in chart.bars] == [True] * 7


def test_bar_chart_of_24_hours_keeps_the_last_hours_label_inside_the_chart():
    chart = bar_chart([(f"{hour:02}:00", hour) for hour in range(24)], label_every=3)

    shown = [bar for bar in chart.bars if bar.show_label]
    assert (chart.left, chart.right) == (43.2, 694.6)
    assert [bar.label for bar in shown] == [f"{hour:02}:00" for hour in range(2, 24, 3)]
    assert shown[-1].middle == 681.1
    assert shown[-1].middle + label_width("23:00") / 2 == 717.1
    assert shown[-1].middle + label_width("23:00") / 2 <= WIDTH


def test_bar_chart_with_long_labels_prints_fewer_so_that_none_overlaps_or_leaves_the_chart():
    chart = bar_chart([(f"Semana {week:02}", week) for week in range(1, 13)])

    shown = [bar for bar in chart.bars if bar.show_label]
    width = label_width("Semana 12")
    assert width == 148.8
    assert [bar.label for bar in shown] == ["Semana 03", "Semana 06", "Semana 09", "Semana 12"]
    assert [bar.middle for bar in shown] == [173.5, 329.9, 486.2, 642.6]
    assert shown[0].middle - width / 2 >= chart.left
    assert shown[-1].middle + width / 2 <= WIDTH
    assert all(b.middle - a.middle >= width + GAP for a, b in itertools.pairwise(shown))


def test_bar_chart_of_zeros_draws_flat_bars_on_the_baseline_under_a_scale_of_one():
    chart = bar_chart([("a", 0), ("b", 0)])

    assert [(bar.x, bar.y, bar.width, bar.height) for bar in chart.bars] == [
        (62.2, 204.0, 277.0, 0.0),
        (408.4, 204.0, 277.0, 0.0),
    ]
    assert chart.ticks == [Tick(value=0, y=204.0), Tick(value=1, y=18.0)]
    assert chart.peak == 0


def test_bar_chart_of_nothing_has_no_bars_and_a_scale_of_one():
    assert bar_chart([]) == BarChart(
        bars=[], ticks=[Tick(value=0, y=204.0), Tick(value=1, y=18.0)], left=27.6, right=720.0
    )
