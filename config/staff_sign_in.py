"""Staff sign-in's wiring: where the visitor's address is read for lockouts, what a
locked-out sign-in sees, and the cap on a staff session's length. The rules
themselves (a second factor for everyone who reaches the admin, lockout after
repeated failures) are django-otp's, wagtail-2fa's and django-axes's, set up in
config/settings/base.py."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import Resolver404, resolve, reverse
from django_otp.middleware import OTPMiddleware
from wagtail.admin.views.account import LoginView

SIGNED_IN_AT = "staff_signed_in_at"


def locked_out(request, original_response=None, credentials=None):
    """The sign-in page again, saying why it refuses and for how long (HTTP 429)."""
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    view = LoginView()
    view.setup(request)
    form = view.get_form_class()(request, initial={"username": (credentials or {}).get("username", "")})
    messages.error(request, (
        f"Too many failed sign-in attempts for this username from your address. Signing in is locked "
        f"for {minutes} minutes; try again after that, or ask an administrator to unlock it."
    ))  # shown on this page, where Wagtail's sign-in page shows its messages
    return TemplateResponse(request, view.template_name, view.get_context_data(form=form), status=429).render()


# What a session signed in by password alone may open: signing in and out, and
# the second step itself (and the admin's scripts and icons those pages use).
SECOND_STEP_URL_NAMES = {
    "wagtailadmin_login", "wagtailadmin_logout", "staff_two_factor_verify", "staff_two_factor_enrol",
    "wagtailadmin_javascript_catalog", "wagtailadmin_sprite",
}


class StaffTwoFactorMiddleware(OTPMiddleware):
    """django-otp's middleware (request.user.is_verified()), and then: a login that
    can reach the admin but has not given its code this session is sent to give
    it (or, with no authenticator enrolled, to enrol one) from every admin URL,
    whatever the method; elsewhere on the site it is nobody (anonymous)."""

    async_capable = False

    def __call__(self, request):
        self._install_lazy_accessors(request)
        in_admin = request.path.startswith(reverse("wagtailadmin_home"))
        if not in_admin and settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.get_response(request)  # no session: nobody signed in (and the page stays cacheable)
        user = request.user
        if user.is_authenticated and not user.is_verified() and user.has_perm("wagtailadmin.access_admin"):
            if not in_admin:
                request.user = AnonymousUser()
            elif (url_name := self._url_name(request)) not in SECOND_STEP_URL_NAMES:
                return redirect_to_login(request.get_full_path(), reverse("staff_two_factor_verify"))
            elif url_name == "wagtailadmin_login" and request.method == "GET":
                # Wagtail's sign-in page would send a signed-in visitor straight on to `next`,
                # which (a private document, say) may send them back here: the code step instead.
                return redirect(f"{reverse('staff_two_factor_verify')}?{request.GET.urlencode()}")
        return self.get_response(request)

    @staticmethod
    def _url_name(request):
        try:
            return resolve(request.path_info).url_name
        except Resolver404:
            return None


class StaffSessionLimitMiddleware:
    """Ends a signed-in session STAFF_SESSION_MAX_HOURS after its sign-in, however
    busy it has been (idle sessions end sooner, by SESSION_COOKIE_AGE)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        max_seconds = settings.STAFF_SESSION_MAX_HOURS * 3600
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            max_seconds = 0  # nobody signed in (and looking would make public pages vary by cookie)
        if not max_seconds:
            return self.get_response(request)
        if request.user.is_authenticated:
            signed_in_at = request.session.get(SIGNED_IN_AT)
            if signed_in_at is not None and time.time() - signed_in_at > max_seconds:
                logout(request)
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        response = self.get_response(request)
        if request.user.is_authenticated and SIGNED_IN_AT not in request.session:
            # The first request of a signed-in session (signing in again on it does not
            # restart the clock: after the cap a new sign-in starts a new session).
            request.session[SIGNED_IN_AT] = time.time()
        return response
