"""config.spreadsheets, the one writer of every CSV and XLSX: what it escapes,
what it leaves as numbers, and that a failure is loud rather than a short file."""

import csv
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest

from config.spreadsheets import csv_bytes, safe_cell, spreadsheet_file


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "-", "=", '=HYPERLINK("x")'])
def test_text_a_spreadsheet_would_run_is_escaped(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Siân", "O'Brien", "12-14 Mill Lane", "a=b", " =1", "", "S0000042"])
def test_other_text_is_left_alone(text):
    assert safe_cell(text) == text


@pytest.mark.parametrize("number", [-500, 0, 2500, Decimal("-12.34"), Decimal("0.05"), -1.5])
def test_numbers_stay_numbers_negative_ones_too(number):
    assert safe_cell(number) == number
    assert csv_bytes([["Amount"], [number]]).decode().splitlines()[1] == str(number)


def test_a_negative_amount_is_a_number_cell_in_xlsx_and_text_is_never_a_formula():
    response, count = spreadsheet_file(rows=[["Refund", "Name"], [Decimal("-12.50"), "=1+1"], [-500, "-2"]],
                                       file_format="xlsx", filename="t")
    assert count == 2
    sheet = openpyxl.load_workbook(io.BytesIO(response.getvalue())).active
    rows = [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert rows == [[(-12.5, "n"), ("'=1+1", "s")], [(-500, "n"), ("'-2", "s")]]


def test_dates_and_booleans():
    lines = list(csv.reader(io.StringIO(csv_bytes([["a", "b", "c"], [datetime.date(2026, 11, 25), True, None]]).decode())))
    assert lines[1] == ["2026-11-25", "Yes", ""]


def test_a_failure_while_writing_is_loud_not_a_short_file():
    """The file is complete before the response exists: an error part-way
    propagates (Django answers 500) instead of a 200 with half the rows."""
    def rows():
        yield ["Reference"]
        yield ["D0000001"]
        raise AttributeError("Failed lookup for key [code] in None")

    for file_format in ("csv", "xlsx"):
        with pytest.raises(AttributeError):
            spreadsheet_file(rows=rows(), file_format=file_format, filename="donations")
