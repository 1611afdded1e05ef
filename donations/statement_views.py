"""The supporter's own giving statement, through the signed link in their
email: no login, no password."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from donations import statements


@never_cache
@require_GET
def annual_statement(request, token):
    found = statements.statement_from_token(token)
    if found is None:
        raise Http404("This statement link is not valid or has expired. Please ask us for a new one.")
    supporter, tax_year = found
    statement = statements.annual_statement(supporter=supporter, tax_year=tax_year)
    response = render(request, "donations/annual_statement.html",
                      {"statement": statement, "staff": False, "charity_name": settings.CHARITY_NAME})
    # The link is the key to the page: keep it out of search engines and other sites' logs.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
