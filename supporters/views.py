"""Public email endpoints: the unsubscribe link (no login: the link is signed).
The tracking webhook's receiving end is supporters/email_tracking.py."""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from config.errors import ApplicationError
from supporters.services import email as email_services


@csrf_exempt  # mail providers POST here for RFC 8058 one-click; the signed token is the authority
def unsubscribe(request, token):
    """GET shows a page with one button (link scanners must not unsubscribe
    anyone); POST unsubscribes: the button, or a provider's one-click request."""
    try:
        supporter, _message = email_services.unsubscribe_read(token)
    except ApplicationError as error:
        return render(request, "supporters/unsubscribe.html", {"error": error.message}, status=400)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        email_services.email_unsubscribe(token=token, how="one_click" if one_click else "link")
        if one_click:
            return HttpResponse("Unsubscribed.", content_type="text/plain")
        return render(request, "supporters/unsubscribe.html", {"done": True, "email": supporter.email})
    return render(request, "supporters/unsubscribe.html", {"email": supporter.email,
                                                          "already": not supporter.consent_email})
