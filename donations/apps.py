from django.apps import AppConfig


class DonationsConfig(AppConfig):
    name = "donations"
    verbose_name = "Donations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from donations import checks  # noqa: F401  (registers the production start-up checks)
        from donations import personal_data as donation_data
        from donations import imports
        from donations.models import Donation
        from donations.services.gifts import imported_gifts_remove
        from donations.services.rollups import donor_years_merge
        from supporters.services import imports as import_services
        from supporters import personal_data
        from supporters import services as supporter_services

        from supporters.audit import audit_register

        # Which person a gift is linked to is personal data; its money is the accounts'.
        audit_register(Donation, supporter_field="supporter", include_fields=["supporter"])
        personal_data.register_section("gifts", donation_data.gifts_section)
        personal_data.register_section("monthly_gifts", donation_data.monthly_gifts_section)
        personal_data.register_eraser(donation_data.erase)
        supporter_services.merge_step_register(donor_years_merge)
        imports.register()
        import_services.import_rollback_step_register(imported_gifts_remove)
        import_services.import_erasure_step_register(
            lambda supporter: Donation.objects.filter(supporter=supporter).exclude(data_import=None)
            .values("data_import_id"))
