"""The dashboard's charts: SVG drawn on the server by pygal (no CDN, no build
step, nothing for the browser to run), each beside a table of its numbers.

An SVG scales as a picture, text and all, so each chart is drawn twice: for a
desktop's column and for a phone's width, each near the size it is shown at,
and the page's CSS shows the one that fits. One drawing shrunk to a phone had
6px labels."""

import dataclasses
import hashlib
import re

import pygal
from django.core.cache import cache
from pygal.style import Style

from cms.dashboard import Table

CHARTS_VERSION = 2  # raise when a chart's drawing changes, so none drawn before is shown again
WIDE, NARROW = 600, 350  # px: the chart's column at 1366px, and a phone's 390px less the page's margins


@dataclasses.dataclass(frozen=True)
class Chart:
    wide: str
    narrow: str


def _style(narrow: bool) -> Style:
    size = 13 if narrow else 14
    return Style(
        background="transparent", plot_background="transparent", foreground="#333", foreground_strong="#1b1b1b",
        foreground_subtle="#d6d6d6", colors=("#00676a", "#c4561b", "#6b5ea8", "#767676"),
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        label_font_size=size, major_label_font_size=size, legend_font_size=size, value_font_size=size,
        title_font_size=size + 2)


def _config(narrow: bool, **options) -> dict:
    # js=[]: pygal's tooltips load a script from a CDN; the table beside the chart has the numbers.
    # margin_right: room for the last month's label, centred on the chart's right edge.
    return {**dict(style=_style(narrow), js=[], disable_xml_declaration=True, explicit_size=False,
                   width=NARROW if narrow else WIDE, legend_at_bottom=True, legend_at_bottom_columns=2,
                   margin=8, margin_right=28, spacing=8, truncate_label=-1, truncate_legend=-1,
                   print_values=False),
            **options}


# pygal writes its tooltips' settings into each chart as an inline script, for a script we do not
# load (js=[]); the Content Security Policy would refuse it, and nothing needs it.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


def _svg(chart) -> str:
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def _ticks(top, *, most: int = 5) -> list[int]:
    """Whole, round steps from 0 to at least `top` (1, 2 or 5 times a power of ten),
    no more than `most` of them: a count's axis never reads 0, 0, 1, 1."""
    top, power = max(int(top or 0), 1), 1
    while True:
        for step in (power, 2 * power, 5 * power):
            if step * most >= top:
                return [step * n for n in range(-(-top // step) + 1)]
        power *= 10


def _shorten(name: str, most: int) -> str:
    return name if len(name) <= most else name[:most - 1].rstrip() + "…"


def _pounds(pence) -> int:
    return int(pence or 0) // 100  # whole pounds, for drawing only: the table has the exact figures


def _both(draw, *, name: str, table: Table) -> Chart:
    """Both drawings, kept in the cache by what they show (pygal takes tens of ms a
    chart; the same figures always make the same picture, so a kept one is never stale)."""
    shown = hashlib.sha256(repr((CHARTS_VERSION, name, list(table.csv_rows()))).encode()).hexdigest()
    return cache.get_or_set(f"dashboard-chart:{shown}", lambda: Chart(wide=draw(False), narrow=draw(True)),
                            timeout=24 * 60 * 60)


def income_over_time(table: Table) -> Chart:
    this_year = [None if row[1].value is None else _pounds(row[1].value) for row in table.rows]
    last_year = [_pounds(row[2].value) for row in table.rows]
    # "Apr 26" ... "Apr 27": the tax year starts and ends in April, so the year tells them apart.
    months = [f"{row[0].value.split()[0][:3]} {row[0].value.split()[-1][2:]}" for row in table.rows]
    ticks = _ticks(max([v for v in this_year + last_year if v is not None], default=0), most=4)

    def draw(narrow):
        chart = pygal.Line(**_config(narrow, height=250 if narrow else 320, show_minor_x_labels=False,
                                     y_labels=ticks, range=(0, ticks[-1]), dots_size=3 if narrow else 4,
                                     stroke_style={"width": 2.5}, value_formatter=lambda v: f"£{v:,.0f}"))
        chart.x_labels = months
        chart.x_labels_major = months[::3] if narrow else months[::2]
        chart.add(table.headings[1], this_year)
        chart.add(table.headings[2], last_year)
        return _svg(chart)
    return _both(draw, name="income_over_time", table=table)


def campaign_progress(table: Table) -> Chart:
    rows = [row for row in table.rows if row[2].value]
    # The table's own percentage (rounded as it shows it), so chart and table agree; a bar stops at 100%.
    shares = [row[3].csv_value or 0 for row in rows]
    axis = [{"label": f"{n}%", "value": n} for n in (0, 25, 50, 75, 100)]

    def draw(narrow):
        chart = pygal.HorizontalBar(**_config(
            narrow, height=max(140, 70 + (40 if narrow else 44) * len(rows)), show_legend=False,
            range=(0, 100), y_labels=axis, value_formatter=lambda v: f"{v:.1f}%"))
        # The share is written by the name: printed on a short bar it would sit on the bar's end.
        # A phone has no room for a long name; the table below has it whole.
        chart.x_labels = [f"{_shorten(row[0].value, 14 if narrow else 28)} {share}%"
                          for row, share in zip(rows, shares)]
        chart.add("Of target", [min(100.0, float(share)) for share in shares])
        return _svg(chart)
    return _both(draw, name="campaign_progress", table=table)


def retention(donors: Table) -> Chart:
    figures = {row[0].value: row[1].value for row in donors.rows}
    labels = ["Retained from last tax year", "Lapsed (gave last tax year, not yet this)",
              "New donors (first gift ever)"]
    counts = [figures.get(label) or 0 for label in labels]
    ticks = _ticks(max(counts), most=4)

    def draw(narrow):
        # Each bar has its number printed on it (so no guide lines), with head-room above the tallest.
        chart = pygal.Bar(**_config(narrow, height=220 if narrow else 280, show_legend=False, y_labels=ticks,
                                    show_y_guides=False, range=(0, ticks[-1] * 1.2), print_values=True,
                                    print_values_position="top",
                                    value_formatter=lambda v: f"{v:,.0f}"))
        chart.x_labels = ["Retained", "Lapsed", "New"]
        chart.add("Donors", counts)
        return _svg(chart)
    return _both(draw, name="retention", table=donors)
