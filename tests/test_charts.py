"""visits/charts.py: the bar charts' geometry, as numbers; no services."""

from visits.charts import Bar, BarChart, bar_chart


def test_bar_chart_scales_the_peak_to_the_drawable_height_and_labels_every_nth_from_the_end():
    chart = bar_chart([("a", 0), ("b", 5), ("c", 10)], label_every=2)

    assert chart == BarChart(
        bars=[
            Bar(x=24.0, y=196.0, width=192.0, height=0.0, label="a", value=0, show_label=True),
            Bar(x=264.0, y=106.0, width=192.0, height=90.0, label="b", value=5, show_label=False),
            Bar(x=504.0, y=16.0, width=192.0, height=180.0, label="c", value=10, show_label=True),
        ],
        width=720,
        height=220,
        baseline=196,
        peak=10,
    )
    assert [bar.middle for bar in chart.bars] == [120.0, 360.0, 600.0]


def test_bar_chart_rounds_positions_to_a_tenth():
    chart = bar_chart([(str(n), n) for n in range(1, 8)])

    first, last = chart.bars[0], chart.bars[-1]
    assert (first.x, first.y, first.width, first.height) == (10.3, 170.3, 82.3, 25.7)
    assert (last.x, last.y, last.width, last.height) == (627.4, 16.0, 82.3, 180.0)
    assert first.middle == 51.5  # from the rounded x and width: 10.3 + 82.3 / 2
    assert [bar.show_label for bar in chart.bars] == [True] * 7


def test_bar_chart_of_zeros_draws_flat_bars_on_the_baseline():
    chart = bar_chart([("a", 0), ("b", 0)])

    assert [(bar.x, bar.y, bar.width, bar.height) for bar in chart.bars] == [
        (36.0, 196.0, 288.0, 0.0),
        (396.0, 196.0, 288.0, 0.0),
    ]
    assert chart.peak == 0


def test_bar_chart_of_nothing_has_no_bars():
    assert bar_chart([]) == BarChart(bars=[], peak=0)
