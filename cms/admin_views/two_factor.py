"""The admin's second sign-in step: after the password, a code from the staff
member's authenticator app; with no app enrolled yet, enrolment (a QR code, the
same secret as text, and a code to confirm). Until one of these succeeds the
session reaches nothing else of the admin (config.staff_sign_in.StaffTwoFactorMiddleware)."""

import io

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth.mixins import UserPassesTestMixin
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView
from django_otp import login as otp_login
from django_otp.forms import OTPAuthenticationFormMixin
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from cms.services import staff_two_factor
from config.errors import ApplicationError

CODE_WIDGET = forms.TextInput(attrs={
    "autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": "", "pattern": "[0-9 ]*",
    "maxlength": "7",
})


class TwoFactorCodeForm(OTPAuthenticationFormMixin, forms.Form):
    otp_token = forms.CharField(label="6-digit code from your authenticator app", widget=CODE_WIDGET)
    otp_error_messages = dict(
        OTPAuthenticationFormMixin.otp_error_messages,
        token_required="Enter the 6-digit code your authenticator app shows.",
        invalid_token="That code is not right. Enter the 6 digits the app shows now.",
        n_failed_attempts="After a wrong code the next try must wait a little: wait a moment, then enter the newest code.",
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def _chosen_device(self, user):
        return staff_two_factor.two_factor_device_for_check(user=user)

    def clean(self):
        if self.cleaned_data.get("otp_token"):
            self.cleaned_data["otp_token"] = self.cleaned_data["otp_token"].replace(" ", "")
        self.clean_otp(self.user)
        return self.cleaned_data


class EnrolmentForm(forms.Form):
    otp_token = forms.CharField(label="6-digit code the app now shows", widget=CODE_WIDGET)


@method_decorator([never_cache, sensitive_post_parameters()], name="dispatch")
class SecondStepView(FormView):
    """Shared by both steps: signed in by password, not yet by code."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect("wagtailadmin_login")
        if request.user.is_verified():
            return redirect(self.next_url())
        return super().dispatch(request, *args, **kwargs)

    def next_url(self) -> str:
        wanted = self.request.POST.get(REDIRECT_FIELD_NAME) or self.request.GET.get(REDIRECT_FIELD_NAME, "")
        if wanted and url_has_allowed_host_and_scheme(wanted, {self.request.get_host()},
                                                      require_https=self.request.is_secure()):
            return wanted
        return reverse("wagtailadmin_home")

    def get_context_data(self, **kwargs):
        return super().get_context_data(next=self.next_url(), issuer=settings.OTP_TOTP_ISSUER, **kwargs)


class TwoFactorVerifyView(SecondStepView):
    template_name = "cms/admin/two_factor_verify.html"
    form_class = TwoFactorCodeForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not staff_two_factor.two_factor_enrolled(user=request.user):
            return redirect(f"{reverse('staff_two_factor_enrol')}?{request.GET.urlencode()}")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        otp_login(self.request, self.request.user.otp_device)
        return redirect(self.next_url())


class TwoFactorEnrolView(SecondStepView):
    template_name = "cms/admin/two_factor_enrol.html"
    form_class = EnrolmentForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and staff_two_factor.two_factor_enrolled(user=request.user):
            return redirect(f"{reverse('staff_two_factor_verify')}?{request.GET.urlencode()}")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        device = staff_two_factor.two_factor_enrolment_device(user=self.request.user)
        image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
        svg = io.BytesIO()
        image.save(svg)
        return super().get_context_data(
            qr_svg=mark_safe(svg.getvalue().decode().split("?>", 1)[-1]),  # our own image, no user input
            secret=staff_two_factor.two_factor_secret_text(device=device),
            **kwargs,
        )

    def form_valid(self, form):
        try:
            staff_two_factor.two_factor_enrol_confirm(request=self.request, token=form.cleaned_data["otp_token"])
        except ApplicationError as error:
            form.add_error(error.field, error.message)
            return self.form_invalid(form)
        return redirect(self.next_url())


class TwoFactorResetView(UserPassesTestMixin, WagtailAdminTemplateMixin, TemplateView):
    """A superuser removes someone's authenticator (a lost phone): at their next
    sign-in, after their password, they set up a new one."""

    raise_exception = True  # 403 for anyone else, never a sign-in loop
    template_name = "cms/admin/two_factor_reset.html"
    page_title = "Reset two-factor sign-in"
    header_icon = "key"

    def test_func(self):
        return self.request.user.is_superuser

    @cached_property
    def person(self):
        return get_object_or_404(get_user_model(), pk=self.kwargs["user_id"])

    def get_page_subtitle(self):
        return self.person.get_full_name() or self.person.get_username()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            person=self.person, enrolled=staff_two_factor.two_factor_enrolled(user=self.person), **kwargs)

    def post(self, request, *args, **kwargs):
        staff_two_factor.two_factor_reset(username=self.person.get_username())
        messages.success(request, f"{self.get_page_subtitle()} will set up a new authenticator at their next sign-in.")
        return redirect("wagtailusers_users:index")
