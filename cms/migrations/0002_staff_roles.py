"""The two staff roles, as groups. Later apps add their own permissions to these
groups in their own migrations (e.g. donations gives Finance its permissions)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FUNDRAISING = "Fundraising"
FINANCE = "Finance"

# (app_label, codename)
ROLE_PERMISSIONS = {
    FUNDRAISING: [
        ("wagtailadmin", "access_admin"),
        ("supporters", "add_supporter"),
        ("supporters", "change_supporter"),
        ("supporters", "view_supporter"),
        ("supporters", "merge_supporter"),
        ("supporters", "export_supporter_data"),
        ("supporters", "erase_supporter"),
        ("supporters", "export_supporter_list"),
        ("campaigns", "add_campaign"),
        ("campaigns", "change_campaign"),
        ("campaigns", "view_campaign"),
    ],
    FINANCE: [
        ("wagtailadmin", "access_admin"),
        ("supporters", "view_supporter"),
        ("campaigns", "view_campaign"),
    ],
}
FUNDRAISING_PAGE_PERMISSIONS = ["add_page", "change_page", "publish_page", "lock_page", "unlock_page"]
FUNDRAISING_COLLECTION_PERMISSIONS = [
    ("wagtailimages", "add_image"), ("wagtailimages", "change_image"), ("wagtailimages", "choose_image"),
    ("wagtaildocs", "add_document"), ("wagtaildocs", "change_document"), ("wagtaildocs", "choose_document"),
]


def _ensure_permissions(apps):
    # Permissions are normally made after migrate; a fresh database needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_roles(apps, schema_editor):
    _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Page = apps.get_model("wagtailcore", "Page")
    Collection = apps.get_model("wagtailcore", "Collection")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    GroupCollectionPermission = apps.get_model("wagtailcore", "GroupCollectionPermission")

    def permission(app_label, codename):
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)

    groups = {}
    for name, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*(permission(*p) for p in permissions))
        groups[name] = group

    fundraising = groups[FUNDRAISING]
    root_page = Page.objects.filter(depth=1).first()
    if root_page:
        for codename in FUNDRAISING_PAGE_PERMISSIONS:
            GroupPagePermission.objects.get_or_create(
                group=fundraising, page=root_page, permission=permission("wagtailcore", codename)
            )
    root_collection = Collection.objects.filter(depth=1).first()
    if root_collection:
        for app_label, codename in FUNDRAISING_COLLECTION_PERMISSIONS:
            GroupCollectionPermission.objects.get_or_create(
                group=fundraising, collection=root_collection, permission=permission(app_label, codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[FUNDRAISING, FINANCE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cms", "0001_initial"),
        ("supporters", "0001_initial"),
        ("campaigns", "0001_initial"),
        ("wagtailcore", "0098_apitoken"),
        ("wagtailadmin", "0006_formstate"),
        ("wagtailimages", "0027_image_description"),
        ("wagtaildocs", "0014_alter_document_file_size"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
