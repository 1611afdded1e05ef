from django import forms
from django.db.models import Exists, OuterRef
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.html import format_html
from taggit.models import Tag
from wagtail import hooks
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets.button import Button

from cms import dashboard
from cms.admin_views import dashboard as dashboard_admin
from cms.admin_views import mailings as mailing_admin
from cms.models import Mailing
from config.admin_screens import ScreenViewSet
from config.exports import ListExportViewSet
from supporters.models import SupporterTag


class MailingViewSet(ListExportViewSet, ModelViewSet):
    model = Mailing
    icon = "mail"
    menu_label = "Mailings"
    menu_order = 110
    add_to_admin_menu = True
    index_view_class = mailing_admin.MailingIndexView
    add_view_class = mailing_admin.MailingCreateView
    edit_view_class = mailing_admin.MailingEditView
    delete_view_class = mailing_admin.MailingDeleteView
    inspect_view_class = mailing_admin.MailingInspectView
    inspect_view_enabled = True
    copy_view_enabled = False
    list_filter = ["status"]
    search_fields = ["name", "subject"]
    list_per_page = 50
    export_filename = "mailings"
    export_permission = "cms.view_mailing"  # Fundraising's; no supporter in it
    list_export = ["name", "subject", "get_status_display", "campaign.code", "last_gift_from", "last_gift_to",
                   "get_giving_display", "recipient_count", "created_at", "send_started_at", "send_finished_at"]
    export_headings = {"get_status_display": "Status", "campaign.code": "Campaign given to",
                       "get_giving_display": "Monthly giving", "recipient_count": "Recipients"}
    panels = [
        FieldPanel("name"),
        MultiFieldPanel([FieldPanel("subject"), FieldPanel("body"),
                         FieldRowPanel([FieldPanel("button_label"), FieldPanel("button_url")])], heading="The email"),
        MultiFieldPanel([FieldPanel("tags"), FieldPanel("campaign"),
                         FieldRowPanel([FieldPanel("last_gift_from"), FieldPanel("last_gift_to")]),
                         FieldPanel("giving")],
                        heading="Who receives it",
                        help_text="Leave a condition empty to ignore it. Only supporters with current email "
                                  "consent and a deliverable address receive a mailing."),
    ]

    def get_form_class(self, for_update=False):
        form_class = super().get_form_class(for_update)
        form_class.base_fields["tags"].widget = forms.CheckboxSelectMultiple()
        form_class.base_fields["campaign"].empty_label = "Any (no condition)"
        # Only supporters' tags (images and documents share taggit's table).
        form_class.base_fields["tags"].queryset = Tag.objects.filter(
            Exists(SupporterTag.objects.filter(tag=OuterRef("pk")))).order_by("name")
        return form_class

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("send/<int:pk>/", mailing_admin.MailingSendView.as_view(), name="send"),
            path("test/<int:pk>/", mailing_admin.mailing_test, name="test"),
            path("resume/<int:pk>/", mailing_admin.mailing_resume, name="resume"),
            path("copy/<int:pk>/", mailing_admin.mailing_copy, name="copy"),
        ]


@hooks.register("register_admin_viewset")
def register_mailing_viewset():
    return MailingViewSet("mailing")


class DashboardViewSet(ScreenViewSet):
    icon = "view"
    menu_label = "Dashboard"
    menu_order = 1
    add_to_admin_menu = True
    permission = dashboard.VIEW_DASHBOARD
    url_prefix = "dashboard"

    def get_urlpatterns(self):
        return [
            path("", dashboard_admin.DashboardView.as_view(), name="index"),
            path("donors/", dashboard_admin.DonorsView.as_view(), name="donors"),
        ]


@hooks.register("register_admin_viewset")
def register_dashboard_viewset():
    return DashboardViewSet("dashboard")


@hooks.register("construct_homepage_panels")
def add_dashboard_panel(request, panels):
    if request.user.has_perm(dashboard.VIEW_DASHBOARD):
        panels.insert(0, dashboard_admin.DashboardPanel(request))


@hooks.register("insert_global_admin_js")
def admin_choosers_js():
    return format_html('<script src="{}"></script>', static("js/admin_choosers.js"))


@hooks.register("insert_global_admin_css")
def dashboard_admin_css():
    return format_html('<link rel="stylesheet" href="{}">', static("cms/dashboard.css"))


@hooks.register("register_admin_urls")
def staff_two_factor_urls():
    # The second sign-in step (config.staff_sign_in lets a password-only session reach these alone).
    from cms.admin_views import two_factor

    return [
        path("sign-in/code/", two_factor.TwoFactorVerifyView.as_view(), name="staff_two_factor_verify"),
        path("sign-in/enrol/", two_factor.TwoFactorEnrolView.as_view(), name="staff_two_factor_enrol"),
        path("sign-in/reset/<int:user_id>/", two_factor.TwoFactorResetView.as_view(), name="staff_two_factor_reset"),
    ]


@hooks.register("register_user_listing_buttons")
def staff_two_factor_reset_button(user, request_user):
    if request_user.is_superuser:
        yield Button("Reset two-factor sign-in", reverse("staff_two_factor_reset", args=[user.pk]),
                     icon_name="key", priority=90)
