"""The supporters' kinds of import: people (from the CRM a charity is leaving,
an event's sign-ups) and paper Gift Aid declarations. Gifts and the platforms'
reports are donations' (donations.imports)."""

import tablib
from django.core.exceptions import NON_FIELD_ERRORS
from import_export.results import RowResult

from supporters.imports import people
from supporters.imports.declarations import COLUMNS as DECLARATION_COLUMNS
from supporters.imports.declarations import GiftAidDeclarationResource
from supporters.imports.engine import ImportResource
from supporters.imports.fields import Country, Email, ImportField, Phone, Postcode, Text, UKDate, YesNo
from supporters.models import Channel, GiftAidDeclaration


def person_fields(*, external_id_help: str, named: bool = False) -> dict[str, ImportField]:
    """The fields of a person, shared by every kind whose rows name someone
    (`named`: every row must, so the file needs a last name column)."""
    return {
        "external_id": ImportField("external_id", "Their id in the other system", widget=Text(100),
                                   help=external_id_help,
                                   aliases=("id", "supporter id", "constituent id", "contact id", "record id",
                                            "donor user id", "donor id", "external key", "serial number", "urn")),
        "title": ImportField("title", "Title", widget=Text(20), aliases=("donor title", "salutation")),
        "first_name": ImportField("first_name", "First name", widget=Text(100),
                                  aliases=("forename", "given name", "donor firstname", "donor first name")),
        "last_name": ImportField("last_name", "Last name", widget=Text(100), required=named,
                                 aliases=("surname", "family name", "donor lastname", "donor last name")),
        "email": ImportField("email", "Email", widget=Email(),
                             aliases=("email address", "e-mail", "donor e-mail", "donor email")),
        "phone": ImportField("phone", "Phone", widget=Phone(),
                             aliases=("telephone", "phone number", "mobile", "donor phone", "donor telephone")),
        "address_line_1": ImportField("address_line_1", "Address line 1",
                                      help="The house name or number and street: “12 High Street”.",
                                      widget=Text(200), aliases=("address 1", "address1", "donor address line 1",
                                                                 "street address", "address")),
        "address_line_2": ImportField("address_line_2", "Address line 2", widget=Text(200),
                                      aliases=("address 2", "address2", "donor address line 2", "locality")),
        "town": ImportField("town", "Town or city", widget=Text(100), aliases=("city", "town", "donor town",
                                                                             "donor city", "post town")),
        "county": ImportField("county", "County", widget=Text(100), aliases=("donor county", "region", "state")),
        "postcode": ImportField("postcode", "Postcode", widget=Postcode(),
                                help="Checked for a UK address; kept as written for another country.",
                                aliases=("post code", "postal code", "zip", "donor postcode", "donor post code")),
        "country": ImportField("country", "Country", widget=Country(),
                               help="GB unless given: a two-letter code or the country's name.",
                               aliases=("donor country", "country code")),
    }


CONSENT_CHANNELS = (Channel.EMAIL, Channel.POST, Channel.PHONE, Channel.SMS)


class SupportersResource(ImportResource):
    """People, with their consent per channel: yes, no, or blank (not asked)."""

    kind = "supporters"
    label = "Supporters"
    locals().update(person_fields(external_id_help="The record's id in the system it comes from: "
                                                   "the next import finds them by it.", named=True))
    consent_email = ImportField("consent_email", "Email consent (yes/no)", widget=YesNo(),
                                aliases=("email opt in", "email consent", "ok to email", "contact by email"))
    consent_post = ImportField("consent_post", "Post consent (yes/no)", widget=YesNo(),
                               aliases=("post opt in", "post consent", "ok to post", "contact by post", "mail opt in"))
    consent_phone = ImportField("consent_phone", "Phone consent (yes/no)", widget=YesNo(),
                                aliases=("phone opt in", "phone consent", "ok to phone", "contact by phone"))
    consent_sms = ImportField("consent_sms", "SMS consent (yes/no)", widget=YesNo(),
                              aliases=("sms opt in", "sms consent", "ok to text", "text opt in"))
    consent_date = ImportField("consent_date", "Date consent was given", widget=UKDate(),
                               help="DD/MM/YYYY; blank is the day of the import.",
                               aliases=("consent date", "opt in date", "date of consent"))

    formats = {"Standard supporters file": {"source": "import", "mapping": {}}}

    def check_row(self, row):
        people.check_person(row, required=True)
        if row.ok and self.run.data_import.consent_wording == "" and any(
                row.values.get(f"consent_{channel}") for channel in CONSENT_CHANNELS):
            row.errors["consent_email"] = ("Consent is recorded with the words the supporter agreed to: give them "
                                           "when uploading the file.")

    def save_rows(self, rows):
        found = [people.person_of(row, consents={c: row.values.get(f"consent_{c}") for c in CONSENT_CHANNELS
                                                 if row.values.get(f"consent_{c}") is not None})
                 for row in rows]
        people.people_find_or_add(self.run, found)
        for person in found:
            self.run.done(person.row, person.how, f"{person.first_name} {person.last_name}".strip(),
                          counted_as=None)  # people_find_or_add counts them


class DeclarationsResource(ImportResource):
    """Paper Gift Aid declarations: each row checked and recorded as the admin
    form records one (supporters.services.gift_aid_declaration_record), through
    GiftAidDeclarationResource. A row repeating a declaration already held is
    skipped, so the same file twice adds nothing."""

    kind = "declarations"
    label = "Gift Aid declarations (paper forms)"
    source_required = False
    locals().update({name: ImportField(name, name.replace("_", " ").capitalize(), help=help_text,
                                       widget=Text(255), aliases=(name,))
                     for name, help_text in DECLARATION_COLUMNS.items()})
    formats = {"Paper Gift Aid declarations": {"source": "paper", "mapping": {}}}

    def save_rows(self, rows):
        dataset = tablib.Dataset(headers=list(DECLARATION_COLUMNS))
        for row in rows:
            dataset.append([row.cells.get(name, "") for name in DECLARATION_COLUMNS])
        resource = GiftAidDeclarationResource(by=self.run.by, file_name=self.run.data_import.file_name)
        result = resource.import_data(dataset, dry_run=False, use_transactions=False, raise_errors=False,
                                      retain_instance_in_row_result=True)
        by_index = {invalid.number: invalid for invalid in result.invalid_rows}
        errors = {error_row.number: error_row for error_row in result.error_rows}
        made = []
        for number, (row, row_result) in enumerate(zip(rows, result.rows, strict=True), 1):
            if number in by_index:
                for column, messages in by_index[number].error_dict.items():
                    column = "" if column == NON_FIELD_ERRORS else column
                    for message in messages:
                        self.run.problem(row.number, column, row.cells.get(column, ""), message)
            elif number in errors:
                for error in errors[number].errors:
                    self.run.problem(row.number, "", "", f"Unexpected error: {error.error}")
            elif row_result.import_type == RowResult.IMPORT_TYPE_SKIP:
                self.run.done(row, "already held", f"{row.cells.get('first_name')} {row.cells.get('last_name')}",
                              counted_as="declarations already held")
            else:
                declaration = row_result.instance
                made.append(declaration.pk)
                self.run.done(row, "declaration recorded",
                              f"{row.cells.get('first_name')} {row.cells.get('last_name')}",
                              counted_as="declarations recorded")
                held = declaration.supporter
                if declaration.last_name.casefold() != held.last_name.casefold():  # a mistyped reference?
                    self.run.note(row.number, "last_name", declaration.last_name,
                                  f"Recorded, but not the name on {held.reference} ({held.last_name}): check the "
                                  "reference (though names do change).")
        GiftAidDeclaration.objects.filter(pk__in=made).update(data_import=self.run.data_import)
