"""Fundraising's mailing screens in the Wagtail admin: write an appeal email,
pick a segment, see who it reaches, send a test, send, and watch it go out.
Each view checks its permission, validates input and calls one service."""


from django.conf import settings
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView
from wagtail.admin import messages
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views import generic

from cms import selectors
from cms.models import Mailing, MailingRecipient
from cms.services import mailings
from config.admin_screens import StaffScreen, staff_permission_required
from config.errors import ApplicationError
from config.formats import admin_datetime
from supporters.email_wording import fill

VIEW, CHANGE, SEND = "cms.view_mailing", "cms.change_mailing", "cms.send_mailing"
COPIED_SESSION_KEY = "mailing_copied"
SAMPLE_VALUES = {"first_name": "Amara", "full_name": "Ms Amara Okafor"}  # the screens' example supporter


def mailing_sample(mailing: Mailing):
    """The mailing as the sample supporter Amara would receive it, for the screens."""
    return mailings.mailing_render(mailing=mailing, supporter=None, unsubscribe_url="#", values=SAMPLE_VALUES)


def sample_subject(mailing: Mailing, subject: str | None = None) -> str:
    """The subject as a supporter sees it, marked "e.g." when it changes from one supporter to the next."""
    if subject is None:
        subject = " ".join(fill(mailing.subject, {"charity_name": settings.CHARITY_NAME, **SAMPLE_VALUES}).split())
    return subject if subject == " ".join(mailing.subject.split()) else f"e.g. {subject}"


def segment_description(mailing: Mailing) -> list[str]:
    """The segment's conditions in words, for the screens."""
    parts = []
    tags = [tag.name for tag in mailing.tags.all()]
    if tags:
        parts.append("Tagged " + " or ".join(f"“{t}”" for t in tags))
    if mailing.campaign:
        parts.append(f"Gave to {mailing.campaign}")
    if mailing.last_gift_from and mailing.last_gift_to:
        parts.append(f"Last gift between {mailing.last_gift_from:%-d %b %Y} and {mailing.last_gift_to:%-d %b %Y}")
    elif mailing.last_gift_from:
        parts.append(f"Gave on or after {mailing.last_gift_from:%-d %b %Y}")
    elif mailing.last_gift_to:
        parts.append(f"Last gift on or before {mailing.last_gift_to:%-d %b %Y}")
    if mailing.giving != Mailing.Giving.ANY:
        parts.append(mailing.get_giving_display())
    return parts or ["Every supporter"]


class MailingIndexView(generic.IndexView):
    results_template_name = "cms/admin/mailing_listing_results.html"

    @cached_property
    def columns(self):
        return [
            self._get_title_column_class(TitleColumn)(
                "name", label="Mailing", sort_key="name", get_url=lambda m: reverse("mailing:inspect", args=[m.pk])),
            Column("subject", label="Subject", accessor=sample_subject),
            Column("status", label="Status", accessor="get_status_display", sort_key="status"),
            Column("recipient_count", label="Recipients", accessor=lambda m: m.recipient_count or "—"),
            Column("send_started_at", label="Sent", accessor=lambda m: admin_datetime(m.send_started_at),
                   sort_key="send_started_at", classname="nowrap"),
            Column("created_at", label="Written", accessor=lambda m: admin_datetime(m.created_at), sort_key="created_at",
                   classname="nowrap"),
        ]


class MailingCreateView(generic.CreateView):
    def save_instance(self):
        instance = self.form.save(commit=False)
        instance.created_by = self.request.user
        instance.save()
        self.form.save_m2m()
        return instance

    def get_success_url(self):
        return reverse("mailing:inspect", args=[self.object.pk])


class DraftOnlyMixin:
    """Only a draft is edited or deleted: what was sent stays as it was sent."""

    sent_warning = ""

    def dispatch(self, request, *args, **kwargs):
        mailing = get_object_or_404(Mailing, pk=kwargs["pk"])
        if mailing.status != Mailing.Status.DRAFT:
            messages.warning(request, self.sent_warning)
            return redirect("mailing:inspect", mailing.pk)
        return super().dispatch(request, *args, **kwargs)


class MailingEditView(DraftOnlyMixin, generic.EditView):
    sent_warning = "This mailing was sent, so it cannot change. Copy it to write a new one."

    def get_success_url(self):
        return reverse("mailing:inspect", args=[self.object.pk])

    def get_success_message(self):
        # The first save of a copy (see mailing_copy) makes a new mailing, so say so.
        if self.request.session.pop(COPIED_SESSION_KEY, None) == self.object.pk:
            return f"Mailing “{self.object}” created."
        return super().get_success_message()


class MailingDeleteView(DraftOnlyMixin, generic.DeleteView):
    sent_warning = "A sent mailing is kept as the record of what supporters received."


class MailingInspectView(generic.InspectView):
    """The mailing as supporters will see it, who it reaches, and its progress."""

    template_name = "cms/admin/mailing.html"
    page_title = "Mailing"

    def get_page_subtitle(self):
        return self.object.name

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        mailing, user = self.object, self.request.user
        sample = mailing_sample(mailing)
        context.update(mailing=mailing, sample=sample, subject=sample_subject(mailing, sample.subject),
                       segment=segment_description(mailing),
                       can_edit=user.has_perm(CHANGE) and mailing.status == Mailing.Status.DRAFT,
                       can_send=user.has_perm(SEND) and mailing.status == Mailing.Status.DRAFT,
                       can_copy=user.has_perm("cms.add_mailing"))
        if mailing.status == Mailing.Status.DRAFT:
            context["audience"] = selectors.mailing_audience_count(mailing=mailing)
        else:
            progress = selectors.mailing_progress(mailing=mailing)
            done = sum(n for status, n in progress.items() if status not in mailings.IN_FLIGHT)
            last_activity = selectors.mailing_last_activity(mailing=mailing)
            stalled = selectors.mailing_stalled(mailing=mailing)
            context.update(progress=[(MailingRecipient.Status(s).label, n) for s, n in progress.items() if n],
                           done=done, percent=(100 * done // mailing.recipient_count) if mailing.recipient_count else 100,
                           last_activity=last_activity, stalled=stalled,
                           can_resume=user.has_perm(SEND) and stalled)
        return context


class MailingSendView(StaffScreen, TemplateView):
    """Confirm, then send: the count is shown again, just before it goes."""

    template_name = "cms/admin/mailing_send.html"
    page_title = "Send mailing"
    header_icon = "mail"
    permission_required = SEND

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.mailing = get_object_or_404(Mailing, pk=kwargs["pk"])

    def get_page_subtitle(self):
        return self.mailing.name

    def get_parent_crumbs(self):
        return [{"url": reverse("mailing:index"), "label": "Mailings"},
                {"url": reverse("mailing:inspect", args=[self.mailing.pk]), "label": self.mailing.name}]

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "mailing": self.mailing,
                "subject": sample_subject(self.mailing),
                "audience": selectors.mailing_audience_count(mailing=self.mailing),
                "segment": segment_description(self.mailing)}

    def post(self, request, *args, **kwargs):
        try:
            mailing = mailings.mailing_send(mailing=self.mailing, by=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("mailing:inspect", self.mailing.pk)
        messages.success(request, f"Sending “{mailing.name}” to {mailing.recipient_count:,} supporters. "
                                  "It goes out in the background; this page shows how far it has got.")
        return redirect("mailing:inspect", mailing.pk)


@require_POST
@staff_permission_required(CHANGE)
def mailing_test(request, pk):
    mailing = get_object_or_404(Mailing, pk=pk)
    try:
        address = mailings.mailing_send_test(mailing=mailing, user=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    except Exception as error:  # the mail provider refused: say so rather than fail the page
        messages.error(request, f"The test could not be sent: {error}")
    else:
        messages.success(request, f"A test was sent to {address}.")
    return redirect("mailing:inspect", mailing.pk)


@require_POST
@staff_permission_required(SEND)
def mailing_resume(request, pk):
    mailing = get_object_or_404(Mailing, pk=pk)
    result = mailings.mailing_resume(mailing=mailing)
    messages.success(request, f"Sending resumed at {timezone.localtime():%H:%M}. "
                              f"{result['returned']} waiting again; {result['unknown']} interrupted mid-send "
                              "(not sent again).")
    return redirect("mailing:inspect", mailing.pk)


@require_POST
@staff_permission_required("cms.add_mailing")
def mailing_copy(request, pk):
    copy = mailings.mailing_copy(mailing=get_object_or_404(Mailing, pk=pk), by=request.user)
    request.session[COPIED_SESSION_KEY] = copy.pk
    messages.success(request, "A new draft with the same wording and segment. Change what you need, then send.")
    return redirect("mailing:edit", copy.pk)
