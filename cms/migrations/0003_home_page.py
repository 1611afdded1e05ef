"""Replace Wagtail's placeholder welcome page with the charity's home page, so a
fresh site has a real front door even before any demo data is loaded."""

from django.db import migrations

HOME_INTRO = (
    "<p>Millions of children around the world grow up in orphanages, though most of them have a parent "
    "or relative. We work with governments and local partners to bring children home to families.</p>"
)


def create_home_page(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Page = apps.get_model("wagtailcore", "Page")
    Site = apps.get_model("wagtailcore", "Site")
    HomePage = apps.get_model("cms", "HomePage")
    Locale = apps.get_model("wagtailcore", "Locale")

    Page.objects.filter(depth=2, slug="home", content_type__model="page").delete()
    if HomePage.objects.exists():
        return
    content_type, _ = ContentType.objects.get_or_create(model="homepage", app_label="cms")
    home = HomePage.objects.create(
        title="Every child belongs in a family",
        draft_title="Every child belongs in a family",
        slug="home",
        content_type=content_type,
        path="00010001",
        depth=2,
        numchild=0,
        url_path="/home/",
        intro=HOME_INTRO,
        live=True,
        locale=Locale.objects.order_by("pk").first(),
    )
    Site.objects.update_or_create(
        is_default_site=True, defaults={"hostname": "localhost", "port": 80, "root_page": home, "site_name": "Brightwell Children's Trust"}
    )


class Migration(migrations.Migration):
    dependencies = [("cms", "0002_staff_roles"), ("wagtailcore", "0098_apitoken")]

    operations = [migrations.RunPython(create_home_page, migrations.RunPython.noop)]
