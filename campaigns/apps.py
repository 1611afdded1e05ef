from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from campaigns import personal_data as campaign_data
        from supporters import personal_data

        personal_data.register_eraser(campaign_data.erase)
