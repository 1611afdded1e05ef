"""The Content Security Policy (django-csp) and its Stripe sources.

The policy itself is in settings (CONTENT_SECURITY_POLICY, or ..._REPORT_ONLY
when CSP_REPORT_ONLY is set); the middleware adds, on every response, the
origins Stripe.js is loaded from and talks to, read from the settings as they
are then (STRIPE_JS_URL, STRIPE_API_BASE), so a site pointed at another Stripe
(localstripe in development and the tests) works under the same policy."""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings

# Stripe's own hosts for Elements (Stripe's CSP guidance): its frames and the API they call.
STRIPE_FRAMES = ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"]
STRIPE_CONNECT = ["https://api.stripe.com"]


def origin(url: str) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def stripe_sources() -> dict[str, list[str]]:
    js = origin(settings.STRIPE_JS_URL)
    api = origin(settings.STRIPE_API_BASE)
    scripts = [source for source in (js, "https://js.stripe.com", "https://*.js.stripe.com") if source]
    return {
        "script-src": scripts,
        "frame-src": [*([js] if js else []), *STRIPE_FRAMES],
        "connect-src": [*([api] if api else []), *([js] if js else []), *STRIPE_CONNECT],
        "img-src": ["https://*.stripe.com"],
    }


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        # A JSON answer (the gift form's, a webhook's) is data, never a document a browser
        # renders (Django sends nosniff with it): the policy, built per response, is left off.
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return super().process_response(request, response)

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        parts.update = {**stripe_sources(), **(parts.update or {})}
        return parts
