"""The one shape of a staff screen in the Wagtail admin.

A screen names the permission it needs (`permission_required`: Django's
PermissionRequiredMixin refuses with 403 before the view runs) and where it
sits (`crumbs`: (URL name, label) pairs between the admin's home and the page
itself, or `get_parent_crumbs()` when they depend on the object shown).
Function views check with `config.permissions.require_perm`."""

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.urls import reverse
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin


class StaffPermissionRequired(PermissionRequiredMixin):
    """Refuse (403) a member of staff without `permission_required`; never a login redirect
    (the admin's own URLs already send anonymous visitors to log in)."""

    raise_exception = True


class StaffScreen(StaffPermissionRequired, WagtailAdminTemplateMixin):
    crumbs: tuple[tuple[str, str], ...] = ()
    crumb_label = ""  # the page's own crumb, when shorter than its title

    def get_parent_crumbs(self) -> list[dict]:
        return [{"url": reverse(name), "label": label} for name, label in self.crumbs]

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + self.get_parent_crumbs() + [{"url": "", "label": self.crumb_label or self.get_page_title()}]
