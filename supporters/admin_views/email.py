"""Staff screens for email, in the Wagtail admin: every message we sent (when,
to whom, what about, how it went: never its body) and the addresses we must
not send to. Messages are what was sent, so nobody edits them; a suppression
stays once made, and staff with the permission may add one by hand."""

import django_filters
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views import generic
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permissions import register_permission_policy

from config.admin_screens import ReadOnlyViewSet, SubtitleCrumb
from config.exports import ListExportViewSet
from config.formats import admin_datetime
from config.permissions import LimitedPolicy
from supporters.models import EmailMessage, EmailSuppression, EmailTemplate

CATEGORIES = [*EmailTemplate.Key.choices, ("mailing", "Mailing")]
_CATEGORY_LABELS = dict(CATEGORIES)


register_permission_policy(EmailSuppression, LimitedPolicy(EmailSuppression, allowed={"view", "add"}))


class MenuNames:
    """A view of a viewset that says what the menu says ("Sent emails", not the
    model's "Email messages") in its title, breadcrumbs, counts and messages."""

    singular = plural = ""

    @property
    def verbose_name(self):
        return self.singular

    @property
    def verbose_name_plural(self):
        return self.plural

    @property
    def paginator_class(self):
        names = {"verbose_name": self.singular, "verbose_name_plural": self.plural}
        return type("Paginator", (WagtailPaginator,), names)

    def get_breadcrumbs_items(self):
        index_url = reverse(self.index_url_name)
        return [{**item, "label": capfirst(self.plural)} if item.get("url") == index_url else item
                for item in super().get_breadcrumbs_items()]


class DashedInspectView(generic.InspectView):
    """An empty value reads "—", not "None" or nothing."""

    def get_field_display_value(self, field_name, field):
        value = super().get_field_display_value(field_name, field)
        return "—" if value is None or value == "" else value


class WhenColumn(Column):
    """A date and time as on the other admin lists ("26 Nov 2026, 01:42"), kept on one line."""

    def __init__(self, name, **kwargs):
        super().__init__(name, accessor=lambda obj: admin_datetime(getattr(obj, name)), classname="nowrap", **kwargs)


def _supporter_link(message: EmailMessage, user):
    """The address, linked to the supporter's record when there is one the user may see."""
    if message.supporter_id and user.has_perm("supporters.view_supporter"):
        return format_html('<a href="{}">{}</a>', reverse("supporter:inspect", args=[message.supporter_id]),
                           message.to_email or str(message.supporter))
    return message.to_email


class RecipientColumn(Column):
    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["value"] = _supporter_link(instance, parent_context["request"].user) or self.empty_value_display
        return context


class EmailMessageFilterSet(WagtailFilterSet):
    status = django_filters.MultipleChoiceFilter(label="Status", choices=EmailMessage.Status.choices)
    category = django_filters.MultipleChoiceFilter(label="Category", choices=CATEGORIES)

    class Meta:
        model = EmailMessage
        fields = []


class SentEmailNames(MenuNames):
    singular, plural = "sent email", "sent emails"


class EmailMessageIndexView(SentEmailNames, generic.IndexView):
    page_title = "Sent emails"
    results_template_name = "supporters/admin/email_listing_results.html"
    no_results_text = "No email has been sent yet."

    def get_base_queryset(self):
        return super().get_base_queryset().select_related("supporter")

    @cached_property
    def columns(self):
        return [
            self._get_title_column_class(TitleColumn)(
                "date", label="Date", accessor=lambda m: admin_datetime(m.created_at), sort_key="created_at",
                get_url=self.get_inspect_url, classname="nowrap"),
            RecipientColumn("to", label="To", sort_key="to_email"),
            Column("subject", label="Subject", sort_key="subject"),
            Column("category", label="Category", accessor=lambda m: _CATEGORY_LABELS.get(m.category, m.category),
                   sort_key="category"),
            Column("status", label="Status", accessor="get_status_display", sort_key="status"),
        ]


class EmailMessageInspectView(SentEmailNames, DashedInspectView):
    """What was sent and what the provider told us of it. The body is not kept, so never shown."""

    page_title = "Sent email"

    def get_page_subtitle(self):
        return self.object.subject

    def get_field_label(self, field_name, field):
        return {"to_email": "To", "is_marketing": "Kind", "created_at": "Date", "events": "What the provider told us",
                "esp_message_id": "Provider's message id"}.get(field_name) or super().get_field_label(field_name, field)

    def get_is_marketing_display_value(self):
        return "Marketing (needs consent)" if self.object.is_marketing else "Transactional"

    def get_to_email_display_value(self):
        return _supporter_link(self.object, self.request.user) or "—"

    def get_category_display_value(self):
        return _CATEGORY_LABELS.get(self.object.category, self.object.category)

    def get_created_at_display_value(self):
        return admin_datetime(self.object.created_at)

    def get_sent_at_display_value(self):
        return admin_datetime(self.object.sent_at)

    def get_last_event_at_display_value(self):
        return admin_datetime(self.object.last_event_at)

    def get_events_display_value(self):
        events = self.object.events.order_by("occurred_at")
        return format_html_join("", "<div>{}: {}{}</div>", (
            (admin_datetime(e.occurred_at), e.event_type, f" ({e.description})" if e.description else "") for e in events
        )) or "—"


# Addresses are personal data: the lists download for those who take supporter lists (Fundraising).
EXPORT = "supporters.export_supporter_list"


class EmailMessageViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = EmailMessage
    icon = "mail"
    menu_label = "Sent emails"
    url_prefix = "email-messages"
    index_view_class = EmailMessageIndexView
    inspect_view_class = EmailMessageInspectView
    inspect_view_fields = ["to_email", "subject", "category", "is_marketing", "status", "error", "created_at",
                           "sent_at", "last_event_at", "esp_message_id", "events"]
    filterset_class = EmailMessageFilterSet
    search_fields = ["to_email", "subject"]
    search_backend_name = None
    list_per_page = 50
    export_filename = "sent-emails"
    export_permission = EXPORT
    list_export = ["created_at", "to_email", "supporter.reference", "subject", "category", "is_marketing",
                   "get_status_display", "error", "sent_at", "last_event_at"]
    export_headings = {"created_at": "Date", "to_email": "To", "supporter.reference": "Supporter",
                       "is_marketing": "Marketing", "get_status_display": "Status"}


class EmailSuppressionForm(WagtailAdminModelForm):
    """An address staff stop by hand (the supporter asked, say): stored in lower
    case, as the sending code compares it."""

    class Meta:
        model = EmailSuppression
        fields = ["email", "detail"]
        labels = {"email": "Email address"}
        help_texts = {
            "email": "This stops every email to the address, not only mailings: receipts, Gift Aid "
                     "confirmations and giving statements too. It cannot be undone here.",
            "detail": "Why, in a few words (e.g. “Asked by phone on 25 Nov”): it is kept with the address.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.reason = EmailSuppression.Reason.MANUAL

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class SuppressionNames(MenuNames):
    singular, plural = "suppressed address", "suppressed addresses"


class EmailSuppressionIndexView(SuppressionNames, generic.IndexView):
    page_title = "Suppressed addresses"
    results_template_name = "supporters/admin/email_listing_results.html"
    add_item_label = "Suppress an address"
    no_results_text = ("No address is suppressed. An address is added here when an email to it bounces for good "
                       "or its owner marks our mail as spam.")

    @cached_property
    def columns(self):
        return [
            self._get_title_column_class(TitleColumn)(
                "email", label="Address", sort_key="email", get_url=self.get_inspect_url, classname="nowrap"),
            Column("reason", label="Reason", accessor="get_reason_display", sort_key="reason"),
            Column("detail", label="Detail"),
            WhenColumn("created_at", label="Since", sort_key="created_at"),
        ]


class EmailSuppressionCreateView(SubtitleCrumb, SuppressionNames, generic.CreateView):
    page_subtitle = "Suppress an address"
    submit_button_label = "Suppress this address"
    submit_button_active_label = "Suppressing…"

    def get_header_title(self):
        return self.page_subtitle

    def get_success_message(self, instance):
        return f"{instance.email} is suppressed: no email goes to it now."

    def get_success_buttons(self):
        return []  # nothing to edit afterwards


class EmailSuppressionInspectView(SuppressionNames, DashedInspectView):
    page_title = "Suppressed address"

    def get_page_subtitle(self):
        return self.object.email

    def get_field_label(self, field_name, field):
        labels = {"email": "Address", "created_at": "Since"}
        return labels.get(field_name) or super().get_field_label(field_name, field)

    def get_created_at_display_value(self):
        return admin_datetime(self.object.created_at)


class EmailSuppressionViewSet(ListExportViewSet, ModelViewSet):
    model = EmailSuppression
    icon = "cross"
    menu_label = "Suppressed addresses"
    url_prefix = "email-suppressions"
    index_view_class = EmailSuppressionIndexView
    add_view_class = EmailSuppressionCreateView
    inspect_view_class = EmailSuppressionInspectView
    copy_view_enabled = False
    inspect_view_enabled = True
    inspect_view_fields = ["email", "reason", "detail", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email"]
    search_backend_name = None
    list_per_page = 50
    export_filename = "suppressed-addresses"
    export_permission = EXPORT
    list_export = ["email", "get_reason_display", "detail", "created_at"]
    export_headings = {"email": "Address", "get_reason_display": "Reason", "created_at": "Since"}

    def get_form_class(self, for_update=False):
        return EmailSuppressionForm


class EmailGroup(ViewSetGroup):
    menu_label = "Email"
    menu_icon = "mail"
    menu_order = 115
    items = (EmailMessageViewSet("email_message"), EmailSuppressionViewSet("email_suppression"))
