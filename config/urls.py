from django.conf import settings
from django.conf.urls.static import static
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls

from cms import views as cms_views
from config.email_webhooks import tracking_urlpatterns
from config.health import healthz
from donations import views as donation_views
from supporters import views as supporter_views

urlpatterns = [
    path("healthz", healthz, name="healthz"),  # the load balancer's health check
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("sitemap.xml", sitemap),
    path("donate/", donation_views.donate, name="donate"),
    path("donate/session/", donation_views.donation_session, name="donation_session"),
    path("donate/confirm/", donation_views.donation_confirm, name="donation_confirm"),
    path("donate/thank-you/<uuid:form_token>/", donation_views.donation_thanks, name="donation_thanks"),
    path("donate/monthly/", donation_views.monthly_start, name="monthly_start"),
    path("donate/monthly/confirm/", donation_views.monthly_confirm, name="monthly_confirm"),
    path("donate/thank-you/monthly/<uuid:form_token>/", donation_views.monthly_thanks, name="monthly_thanks"),
    path("giving/monthly/<str:token>/", donation_views.monthly_manage, name="monthly_manage"),
    path("giving/monthly/<str:token>/amount/", donation_views.monthly_manage_amount, name="monthly_manage_amount"),
    path("giving/monthly/<str:token>/cancel/", donation_views.monthly_manage_cancel, name="monthly_manage_cancel"),
    path("giving/monthly/<str:token>/card/", donation_views.monthly_manage_card, name="monthly_manage_card"),
    path("giving/monthly/<str:token>/card-saved/", donation_views.monthly_manage_card_saved,
         name="monthly_manage_card_saved"),
    path("giving/statement/<str:token>/", donation_views.annual_statement, name="annual_statement"),
    path("fundraise/start/<slug:code>/", cms_views.fundraiser_start, name="fundraiser_start"),
    path("fundraise/<slug:slug>/", cms_views.fundraiser_page, name="fundraiser_page"),
    path("stripe/webhook/", donation_views.stripe_webhook, name="stripe_webhook"),
    path("email/unsubscribe/<str:token>/", supporter_views.unsubscribe, name="email_unsubscribe"),
    # The provider's tracking webhook only, verified by anymail (config/email_webhooks.py).
    path("anymail/", include((tracking_urlpatterns(settings.EMAIL_TRACKING_PROVIDER), "anymail"))),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

urlpatterns += [path("", include(wagtail_urls))]

# A lost database answers 503 with Retry-After; any other error the plain 500 page.
handler500 = "config.unavailable.handler500"
