from django.apps import AppConfig


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = "Public site"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from cms.models import charity_email_footer
        from config import exports
        from supporters.services import email

        email.register_footer(charity_email_footer)
        exports.install_for_wagtail()  # every admin download escaped, complete and logged
