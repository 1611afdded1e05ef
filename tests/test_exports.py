"""config.exports.Exporter, the one shape of every download: it checks the
role before reading anything, reads cells by column (money as pounds, an empty
relation as an empty cell), escapes what a spreadsheet would run, and logs who
took what; a failure part-way is loud, never a short file."""

import csv
import io
import logging
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from config.exports import Column, Exporter

pytestmark = pytest.mark.django_db


class GiftsExport(Exporter):
    name = "test_gifts"
    label = "Test gifts"
    permission = "donations.export_donation"
    columns = [Column("Gift", "reference"), Column("Amount", "amount_pence", money=True),
               Column("Campaign", "campaign.code"), Column("Note", lambda gift: gift.note.upper())]

    def __init__(self, gifts):
        self.gifts = gifts

    def items(self):
        return self.gifts


def _gift(reference, pence, campaign=None, note=""):
    return SimpleNamespace(reference=reference, amount_pence=pence, note=note,
                           campaign=SimpleNamespace(code=campaign) if campaign else None)


def _read(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_rows_by_column_money_in_pounds_empty_relation_blank_and_formulas_escaped(admin_user):
    gifts = [_gift("D1", 12345, "WINTER", "=cmd"), _gift("D2", -500)]
    assert _read(GiftsExport(gifts).response(user=admin_user)) == [
        ["Gift", "Amount", "Campaign", "Note"], ["D1", "123.45", "WINTER", "'=CMD"], ["D2", "-5.00", "", ""]]
    assert GiftsExport(gifts).cells(gifts[0])[1] == Decimal("123.45")


def test_a_user_without_the_permission_gets_nothing_and_nothing_is_read(fundraiser):
    class Exploding(GiftsExport):
        def items(self):
            raise AssertionError("read before the role was checked")

    for user in (fundraiser, AnonymousUser()):
        with pytest.raises(PermissionDenied):
            Exploding([]).response(user=user)


def test_the_download_is_logged_with_who_what_and_how_many(finance_user, caplog):
    with caplog.at_level(logging.INFO, logger="brightwell.exports"):
        GiftsExport([_gift("D1", 100), _gift("D2", 200)]).response(user=finance_user, file_format="xlsx")
    assert "finance" in caplog.text and "Test gifts" in caplog.text and "test-gifts.xlsx" in caplog.text
    assert "2 rows" in caplog.text


def test_an_unknown_format_falls_back_to_the_first_offered(admin_user):
    response = GiftsExport([_gift("D1", 100)]).response(user=admin_user, file_format="exe")
    assert response["Content-Disposition"].endswith('test-gifts.csv"')


def test_a_failure_part_way_is_loud(admin_user):
    def items():
        yield _gift("D1", 100)
        raise RuntimeError("the database went away")

    export = GiftsExport(None)
    export.items = items
    with pytest.raises(RuntimeError):
        export.response(user=admin_user)
