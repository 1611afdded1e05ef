"""Paper Gift Aid declarations, a row each, as the import flow's declarations
kind reads them (supporters.imports.kinds.DeclarationsResource).

Each row is checked as `services.gift_aid_declaration_record` checks a
declaration (and recorded through it), so a file cannot hold what the admin
form would refuse. A row matching a written declaration already held (same
supporter, date, house and postcode) is skipped, so importing the same file
twice makes no duplicates."""

import datetime
import re

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from import_export import fields, resources
from import_export.results import RowResult

from config.errors import ApplicationError
from config.formats import parse_uk_date
from supporters import services
from supporters.imports.fields import country_code
from supporters.models import GiftAidDeclaration, Supporter


# The file's columns, in the order of the template, with what staff are told of each.
COLUMNS = {
    "supporter_reference": "The supporter's reference, like S0000042 (or give their email).",
    "email": "The supporter's email address, if there is no reference.",
    "title": "Optional: Mr, Mrs, Ms, Dr…",
    "first_name": "First name, as written on the form.",
    "last_name": "Last name, as written on the form.",
    "house": "House name or number of the home address.",
    "street": "Street.",
    "town": "Town or city.",
    "postcode": "Postcode: needed for a UK address.",
    "country": "Optional: GB unless given (a two-letter code or the country's name).",
    "declared_on": "The date on the form: DD/MM/YYYY or YYYY-MM-DD.",
    "scope": "Optional: this_gift, future_gifts or all_gifts (the default).",
}
REQUIRED_COLUMNS = ("first_name", "last_name", "house", "declared_on")
# Where a declaration's field is found in the file.
COLUMN_OF = {
    "supporter": "supporter_reference", "title": "title", "first_name": "first_name", "last_name": "last_name",
    "address_house": "house", "address_street": "street", "address_town": "town", "postcode": "postcode",
    "country": "country", "declared_on": "declared_on", "scope": "scope",
}
_REFERENCE = re.compile(r"S?0*(\d+)", re.IGNORECASE)

def _text(value) -> str:
    """A cell as text: numbers typed into a spreadsheet ("12") lose their ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _date(value) -> datetime.date:
    return parse_uk_date(_text(value))


def _country(value) -> str:
    return country_code(_text(value))


def _scope(value) -> str:
    text = _text(value).lower()
    if not text:
        return GiftAidDeclaration.Scope.ALL_GIFTS
    if text not in GiftAidDeclaration.Scope.values:
        raise ValueError(f"“{text}” is not a scope: use this_gift, future_gifts or all_gifts (or leave it blank).")
    return text


class GiftAidDeclarationResource(resources.ModelResource):
    """One written declaration per row, recorded through
    services.gift_aid_declaration_record. Errors are keyed by the file's column."""

    supporter_reference = fields.Field(column_name="supporter_reference")
    email = fields.Field(column_name="email")
    title = fields.Field(attribute="title", column_name="title")
    first_name = fields.Field(attribute="first_name", column_name="first_name")
    last_name = fields.Field(attribute="last_name", column_name="last_name")
    house = fields.Field(attribute="address_house", column_name="house")
    street = fields.Field(attribute="address_street", column_name="street")
    town = fields.Field(attribute="address_town", column_name="town")
    postcode = fields.Field(attribute="postcode", column_name="postcode")
    country = fields.Field(attribute="country", column_name="country")
    declared_on = fields.Field(attribute="declared_on", column_name="declared_on")
    scope = fields.Field(attribute="scope", column_name="scope")

    class Meta:
        model = GiftAidDeclaration
        fields = tuple(COLUMNS)
        import_order = tuple(COLUMNS)
        force_init_instance = True  # every row is a new declaration or a repeat, never an update
        skip_diff = True
        clean_model_instances = False  # validate_instance below checks, keyed by column
        use_transactions = True
        report_skipped = True
        store_instance = True

    def __init__(self, *, by=None, file_name: str = ""):
        super().__init__()
        self.by = by
        self.file_name = file_name
        self.saved_rows: dict[int, int] = {}  # declaration id -> the file's row that made it

    def import_row(self, row, instance_loader, **kwargs):
        if not any(_text(value) for value in row.values()):
            result = self.get_row_result_class()()
            result.import_type = RowResult.IMPORT_TYPE_SKIP
            result.blank = True
            return result
        return super().import_row(row, instance_loader, **kwargs)

    def _supporter(self, row, errors) -> Supporter | None:
        reference, email = _text(row.get("supporter_reference")), _text(row.get("email")).lower()
        by_reference = by_email = None
        if reference:
            match = _REFERENCE.fullmatch(reference)
            by_reference = Supporter.objects.filter(pk=int(match.group(1))).first() if match else None
            if by_reference is None:
                errors["supporter_reference"] = f"No supporter has the reference “{reference}”."
        if email:
            found = list(Supporter.objects.filter(email=email, erased_at__isnull=True)[:2])
            if len(found) > 1 and not reference:
                errors["email"] = f"More than one supporter has the email “{email}”: give the supporter_reference."
            elif found:
                by_email = found[0]
            elif not reference:
                errors["email"] = f"No supporter has the email “{email}”."
        if not reference and not email:
            errors["supporter_reference"] = "Give the supporter_reference or the email of an existing supporter."
        supporter = by_reference or by_email
        if by_reference and by_email and by_reference.pk != by_email.pk:
            errors["email"] = f"“{email}” belongs to {by_email.reference}, not to {by_reference.reference}."
        if supporter is not None and supporter.is_erased:
            errors["supporter_reference"] = f"{supporter.reference} has been erased."
        return None if errors.keys() & {"supporter_reference", "email"} else supporter

    def import_instance(self, instance, row, **kwargs):
        errors: dict[str, str] = {}
        supporter = self._supporter(row, errors)
        parsed = {}
        for column, parse in (("declared_on", _date), ("scope", _scope), ("country", _country)):
            try:
                parsed[column] = parse(row.get(column))
            except ValueError as error:
                errors[column] = str(error)
        if "declared_on" in parsed and parsed["declared_on"] > timezone.localdate():
            errors["declared_on"] = f"{parsed['declared_on']:%d/%m/%Y} is in the future."
        declared = {name: _text(row.get(COLUMN_OF[name])) for name in
                    ("title", "first_name", "last_name", "address_house", "address_street", "address_town",
                     "postcode")}
        declared["country"] = parsed.get("country", "GB")
        try:
            declared = services.gift_aid_declaration_details(supporter=None, declared=declared)
        except services.DeclarationDetailsError as error:
            for name, message in error.errors.items():
                errors.setdefault(COLUMN_OF[name], message)
        scope = parsed.get("scope", GiftAidDeclaration.Scope.ALL_GIFTS)
        for name, value in declared.items():
            setattr(instance, name, value)
        instance.supporter = supporter
        instance.declared_on = parsed.get("declared_on")
        instance.scope = scope
        instance.method = GiftAidDeclaration.Method.WRITTEN
        instance.wording = services.gift_aid_wording(scope=scope)
        instance.wording_version = services.GIFT_AID_WORDING_VERSION
        instance.row = kwargs["row_number"] + 1  # as the spreadsheet numbers it, under the headings' row
        instance.source_detail = f"Imported from “{self.file_name}”, row {instance.row}"[:255]
        instance.recorded_by = self.by
        if errors:
            raise ValidationError(errors)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """Our checks (import_instance) and the model's own (lengths, choices),
        every problem keyed by the file's column."""
        errors = dict(import_validation_errors or {})
        checked = [name for name, column in COLUMN_OF.items() if column not in errors and name != "supporter"]
        try:
            instance.full_clean(
                exclude=[f.name for f in GiftAidDeclaration._meta.concrete_fields if f.name not in checked],
                validate_unique=False, validate_constraints=False,
            )
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                errors[COLUMN_OF.get(name, NON_FIELD_ERRORS)] = messages
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """A row matching a written declaration already held is skipped (and reported)."""
        if import_validation_errors:
            return False
        instance.duplicate_of = (
            GiftAidDeclaration.objects.filter(
                supporter=instance.supporter, declared_on=instance.declared_on,
                method=GiftAidDeclaration.Method.WRITTEN, postcode=instance.postcode,
                address_house__iexact=instance.address_house,
            ).order_by("pk").first()
        )
        instance.repeats_row = self.saved_rows.get(getattr(instance.duplicate_of, "pk", None))
        return instance.duplicate_of is not None

    def do_instance_save(self, instance, is_create):
        try:
            declaration = services.gift_aid_declaration_record(
                supporter=instance.supporter, method=instance.method, wording=instance.wording,
                wording_version=instance.wording_version, declared_on=instance.declared_on, scope=instance.scope,
                source_detail=instance.source_detail, by=self.by,
                declared={name: getattr(instance, name) for name in
                          ("title", "first_name", "last_name", "address_house", "address_street", "address_town",
                           "postcode", "country")},
            )
        except ApplicationError as error:
            raise ValidationError({COLUMN_OF.get(error.field, NON_FIELD_ERRORS): error.message}) from error
        instance.pk = declaration.pk
        self.saved_rows[declaration.pk] = instance.row
