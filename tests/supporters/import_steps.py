"""The Imports screens' steps, as staff take them: upload, match the columns
and check (the dry run), import."""

from supporters.models import DataImport


def upload(client, file, kind, format_name=""):
    response = client.post("/admin/imports/new/", {"kind": kind, "format_name": format_name, "file": file})
    assert response.status_code == 302, response.content.decode()[:3000]
    return DataImport.objects.get(pk=response.url.rstrip("/").split("/")[-2])


def check(client, data_import, **form):
    """Post the mapping screen as shown (its initial choices), with `form` on top."""
    page = client.get(f"/admin/imports/{data_import.pk}/map/")
    assert page.status_code == 200
    data = {name: field.initial or "" for name, field in page.context["form"].fields.items()
            if name.startswith("map_") or name == "consent_wording"}
    data.update(form)
    if page.context["form"].fields["skip_bad_rows"].initial:
        data.setdefault("skip_bad_rows", "on")
    response = client.post(f"/admin/imports/{data_import.pk}/map/", {k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302, response.content.decode()[:3000]
    data_import.refresh_from_db()
    return client.get(response.url)


def confirm(client, data_import):
    response = client.post(f"/admin/imports/{data_import.pk}/", {"action": "import"})
    assert response.status_code == 302
    data_import.refresh_from_db()
    return client.get(response.url)
