"""The site's answer when its database cannot be reached (PostgreSQL restarted,
failed over, or the network to it cut): a 503 that says to try again, with
Retry-After, never a 500 with a trace. Stripe retries a webhook that answers
non-2xx, and the donation form's script shows the JSON message.

It is Django's handler500, so that it catches the error wherever it is raised
(a view, or a middleware saving the session), and it touches no database."""

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import server_error

# Connection lost, refused or reset, and passing conflicts (a lock timeout, a
# deadlock, a serialisation failure): all are gone on a retry.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
MESSAGE = ("Sorry, our site is having a short break and could not save anything just now. "
           "Please try again in a minute. If you were making a donation, trying again with the same "
           "form will not charge you twice.")


def _wants_json(request) -> bool:
    return (request.headers.get("X-Requested-With") == "fetch"
            or "application/json" in request.headers.get("Accept", ""))


def handler500(request, *args, **kwargs):
    error = sys.exc_info()[1]
    if not isinstance(error, DATABASE_UNAVAILABLE):
        return server_error(request, *args, **kwargs)
    if _wants_json(request):
        response = JsonResponse({"error": MESSAGE, "retry": True}, status=503)
    else:
        response = HttpResponse(loader.get_template("503.html").render(
            {"message": MESSAGE, "charity_name": settings.CHARITY_NAME}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
