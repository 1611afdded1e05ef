"""The dashboard's charts: SVG drawn on the server by pygal (no CDN, no build
step, nothing for the browser to run), each beside a table of its numbers."""

import pygal
from pygal.style import Style

from cms.dashboard import Table

_STYLE = Style(
    background="transparent", plot_background="transparent", foreground="#333", foreground_strong="#1b1b1b",
    foreground_subtle="#ddd", colors=("#00676a", "#e07a36", "#6b5ea8", "#9a9a9a"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=13, major_label_font_size=13, legend_font_size=14, value_font_size=12, title_font_size=16)


def _config(**options) -> dict:
    # js=[]: pygal's tooltips load a script from a CDN; the table beside the chart has the numbers.
    return dict(style=_STYLE, js=[], disable_xml_declaration=True, explicit_size=False, show_y_guides=True,
                legend_at_bottom=True, legend_at_bottom_columns=2, margin=12, truncate_label=-1,
                print_values=False, **options)


def _pounds(pence) -> int:
    return int(pence or 0) // 100  # whole pounds, for drawing only: the table has the exact figures


def income_over_time(table: Table) -> str:
    chart = pygal.Line(**_config(width=760, height=340, x_label_rotation=0, show_minor_x_labels=False,
                                 dots_size=3, value_formatter=lambda v: f"£{v:,.0f}"))
    months = [row[0].value.split()[0][:3] for row in table.rows]
    chart.x_labels = months
    chart.x_labels_major = months[::3]
    chart.add(table.headings[1], [None if row[1].value is None else _pounds(row[1].value) for row in table.rows])
    chart.add(table.headings[2], [_pounds(row[2].value) for row in table.rows])
    return chart.render(is_unicode=True)


def campaign_progress(table: Table) -> str:
    rows = [row for row in table.rows if row[2].value]
    chart = pygal.HorizontalBar(**_config(width=760, height=max(160, 60 + 44 * len(rows)), show_legend=False,
                                          range=(0, 100), value_formatter=lambda v: f"{v:.0f}%"))
    chart.x_labels = [row[0].value for row in rows]
    chart.add("Of target", [min(100, int(100 * row[1].value // row[2].value)) for row in rows])
    return chart.render(is_unicode=True)


def retention(donors: Table) -> str:
    figures = {row[0].value: row[1].value for row in donors.rows}
    chart = pygal.Bar(**_config(width=760, height=300, show_legend=False, value_formatter=lambda v: f"{v:,.0f}"))
    labels = ["Retained from last tax year", "Lapsed (gave last tax year, not yet this)", "New donors (first gift ever)"]
    chart.x_labels = ["Retained", "Lapsed", "New"]
    chart.add("Donors", [figures.get(label) or 0 for label in labels])
    return chart.render(is_unicode=True)
