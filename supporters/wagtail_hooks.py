from django.templatetags.static import static
from django.urls import path
from django.utils.html import format_html
from wagtail import hooks
from wagtail.admin.panels import FieldPanel, FieldRowPanel, HelpPanel, MultiFieldPanel, ObjectList
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from config.admin_screens import ProtectedDeleteView, ScreenViewSet, SubtitleCrumb
from supporters.admin_views import imports as import_views
from supporters.admin_views import supporters as views
from supporters.admin_views.declarations import GiftAidDeclarationViewSet
from supporters.admin_views.email import EmailGroup  # sent emails and suppressed addresses
from supporters.admin_views.audit_log import AuditEntryViewSet
from supporters.admin_views.export_records import ExportRecordViewSet
from supporters.models import EmailTemplate, Supporter


class SupporterRecordView(SubtitleCrumb, views.SupporterInspectView):
    """The record, with buttons from the apps above (which `supporters` may not
    import): each function registered under the hook "register_supporter_record_buttons"
    takes supporter= and user= and returns Buttons (label and url), shown in the
    record's row of actions rather than the header, where a phone needs the room for the name."""

    def hidden_crumb_urls(self):
        # The header shows the supporter's name alone (on a phone "Supporter record" took its room),
        # and no link to the edit form before it: "Edit details" is in the row of actions.
        return {self.get_edit_url()}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["record_buttons"] = [button for hook in hooks.get_hooks("register_supporter_record_buttons")
                                     for button in hook(supporter=self.object, user=self.request.user)]
        # Sections other apps add (their gifts, say), as HTML, above the timeline: "register_supporter_record_sections".
        context["record_sections"] = [section for hook in hooks.get_hooks("register_supporter_record_sections")
                                      for section in hook(supporter=self.object, user=self.request.user)]
        return context


class SupporterViewSet(ModelViewSet):
    model = Supporter
    icon = "group"
    menu_label = "Supporters"
    index_view_class = views.SupporterIndexView
    inspect_view_class = SupporterRecordView
    edit_view_class = views.SupporterEditView
    inspect_view_enabled = True
    copy_view_enabled = False
    filterset_class = views.SupporterFilterSet
    delete_view_class = ProtectedDeleteView
    search_fields = ["first_name", "last_name", "email", "postcode"]  # enables the box; the selector does the search
    search_backend_name = None
    list_per_page = 50
    list_export = [
        "reference", "title", "first_name", "last_name", "preferred_name", "email", "phone", "address_house",
        "address_street", "address_locality", "address_town", "address_county", "postcode", "country",
        "source", "consent_email", "consent_post", "consent_phone", "consent_sms", "created_at",
    ]
    export_headings = {"reference": "Reference", "consent_email": "Email consent", "consent_post": "Post consent",
                       "consent_phone": "Phone consent", "consent_sms": "SMS consent"}
    edit_handler = ObjectList([
        MultiFieldPanel([
            FieldRowPanel([FieldPanel("title"), FieldPanel("first_name"), FieldPanel("last_name")]),
            FieldPanel("preferred_name"),
            FieldRowPanel([FieldPanel("email"), FieldPanel("phone")]),
            FieldPanel("date_of_birth"),
        ], heading="Name and contact"),
        MultiFieldPanel([
            FieldRowPanel([FieldPanel("address_house"), FieldPanel("address_street")]),
            FieldPanel("address_locality"),
            FieldRowPanel([FieldPanel("address_town"), FieldPanel("address_county")]),
            FieldRowPanel([FieldPanel("postcode"), FieldPanel("country")]),
        ], heading="Postal address"),
        MultiFieldPanel([
            FieldPanel("source"),
            FieldPanel("tags"),
            FieldPanel("notes"),
        ], heading="About"),
    ])

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("duplicates/", views.DuplicatesView.as_view(), name="duplicates"),
            path("duplicates/<int:flag_pk>/dismiss/", views.likely_duplicate_dismiss, name="duplicate_dismiss"),
            path("mailing-list/<str:channel>/", views.mailing_list_export, name="mailing_list"),
            path("mail-house/", views.mail_house_export, name="mail_house"),
            path("<int:pk>/consent/", views.ConsentChangeView.as_view(), name="consent"),
            path("<int:pk>/timeline/", views.InteractionAddView.as_view(), name="interaction_add"),
            path("<int:pk>/merge/", views.MergeView.as_view(), name="merge"),
            path("<int:pk>/erase/", views.EraseView.as_view(), name="erase"),
            path("<int:pk>/personal-data/", views.PersonalDataExportView.as_view(), name="personal_data"),
            path("<int:pk>/gift-aid/new/", views.GiftAidDeclarationRecordView.as_view(), name="gift_aid_record"),
            path("<int:pk>/gift-aid/<int:declaration_pk>/cancel/", views.GiftAidCancelView.as_view(),
                 name="gift_aid_cancel"),
            path("<int:pk>/gift-aid/<int:declaration_pk>/complete/", views.GiftAidCompleteView.as_view(),
                 name="gift_aid_complete"),
            path("<int:pk>/gift-aid/<int:declaration_pk>/send-confirmation/", views.gift_aid_send_confirmation,
                 name="gift_aid_send_confirmation"),
            path("<int:pk>/gift-aid/<int:declaration_pk>/letter/", views.GiftAidLetterView.as_view(),
                 name="gift_aid_letter"),
        ]


class GiftAidImportViewSet(ScreenViewSet):
    """Paper Gift Aid declarations: the import flow, ready for them (the menu item staff know)."""

    icon = "upload"
    menu_label = "Import Gift Aid declarations"
    permission = "supporters.import_data"
    url_prefix = "gift-aid-import"

    def get_urlpatterns(self):
        return [path("", import_views.declarations_import, name="index")]


class ImportViewSet(ScreenViewSet):
    """Every import (supporters, gifts, platforms' reports, declarations), at /admin/imports/."""

    icon = "upload"
    menu_label = "Imports"
    permission = "supporters.view_dataimport"
    url_prefix = "imports"

    def get_urlpatterns(self):
        return [
            path("", import_views.ImportListView.as_view(), name="index"),
            path("new/", import_views.UploadView.as_view(), name="new"),
            path("template/<str:kind>/", import_views.template_file, name="template"),
            path("<int:pk>/", import_views.ReportView.as_view(), name="report"),
            path("<int:pk>/map/", import_views.MappingView.as_view(), name="map"),
            path("<int:pk>/roll-back/", import_views.RollbackView.as_view(), name="rollback"),
        ]


class SupporterGroup(ViewSetGroup):
    menu_label = "Supporters"
    menu_icon = "group"
    menu_order = 100
    items = (SupporterViewSet("supporter"), GiftAidDeclarationViewSet("gift_aid_declaration"),
             ImportViewSet("imports"), GiftAidImportViewSet("gift_aid_import"))


@hooks.register("register_admin_viewset")
def register_supporter_viewsets():
    return SupporterGroup()


@hooks.register("register_admin_viewset")
def register_email_viewsets():
    return EmailGroup()


@hooks.register("register_admin_viewset")
def register_export_log_viewset():
    return ExportRecordViewSet("export_record")


@hooks.register("register_admin_viewset")
def register_audit_log_viewset():
    return AuditEntryViewSet("audit_log")


class EmailTemplateViewSet(SnippetViewSet):
    """The wording of each transactional email, with a live preview."""

    model = EmailTemplate
    icon = "mail"
    menu_label = "Email wording"
    add_to_admin_menu = False
    list_display = ["__str__", "subject", "updated_at"]
    copy_view_enabled = False
    panels = [FieldPanel("subject"), FieldPanel("body", help_text=None), HelpPanel(template="supporters/admin/email_placeholders.html")]


register_snippet(EmailTemplateViewSet)


@hooks.register("register_log_actions")
def register_supporter_log_actions(actions):
    actions.register_action("supporters.merge", "Merge", "Merged a duplicate record into this one")
    actions.register_action("supporters.erase", "Erase", "Personal data erased")


@hooks.register("insert_global_admin_css")
def supporter_admin_css():
    return format_html('<link rel="stylesheet" href="{}">', static("supporters/admin.css"))
