"""The one shape of a staff screen in the Wagtail admin, and of a read-only list.

A screen names the permission it needs (`permission_required`: Django's
PermissionRequiredMixin refuses with 403 before the view runs) and where it
sits (`crumbs`: (URL name, label) pairs between the admin's home and the page
itself, or `get_parent_crumbs()` when they depend on the object shown).
A function view (the admin's POST actions) takes the same guard as a decorator,
`staff_permission_required`; a screen whose form needs more than viewing it
names that in `post_permission_required`."""

from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db import transaction
from django.db.models import ProtectedError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import cached_property
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin import messages
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic import DeleteView
from wagtail.admin.viewsets.base import ViewSet
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permissions import register_permission_policy

from config.permissions import LimitedPolicy


class StaffPermissionRequired(PermissionRequiredMixin):
    """Refuse (403) a member of staff without `permission_required` (and, to
    post its form, `post_permission_required`); never a login redirect (the
    admin's own URLs already send anonymous visitors to log in)."""

    raise_exception = True
    post_permission_required = ""

    def get_permission_required(self):
        required = list(super().get_permission_required())
        if self.request.method == "POST" and self.post_permission_required:
            required.append(self.post_permission_required)
        return required


def staff_permission_required(permission: str):
    """StaffPermissionRequired for a function view: 403 without `permission`."""
    return permission_required(permission, raise_exception=True)


class StaffScreen(StaffPermissionRequired, WagtailAdminTemplateMixin):
    crumbs: tuple[tuple[str, str], ...] = ()
    crumb_label = ""  # the page's own crumb, when shorter than its title

    def get_parent_crumbs(self) -> list[dict]:
        return [{"url": reverse(name), "label": label} for name, label in self.crumbs]

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + self.get_parent_crumbs() + [{"url": "", "label": self.crumb_label or self.get_page_title()}]


class SubtitleCrumb:
    """For Wagtail's generic views: the page's own crumb is its subtitle (a
    supporter's name, an address), not the model's name; `hidden_crumb_urls`
    leaves out crumbs the page shows as actions instead."""

    def hidden_crumb_urls(self) -> set[str]:
        return set()

    def get_breadcrumbs_items(self):
        hidden = self.hidden_crumb_urls()
        items = [item for item in super().get_breadcrumbs_items()[:-1] if item.get("url") not in hidden]
        return [*items, {"url": "", "label": self.get_page_subtitle()}]


class ScreenViewSet(ViewSet):
    """Screens that are not a model's list (an import, a reconciliation), under
    one URL prefix, in the menu only for those with `permission` (each view
    still guards itself)."""

    permission = ""

    @cached_property
    def menu_item_class(self):
        permission = self.permission
        return type(f"{self.__class__.__name__}MenuItem", (MenuItem,),
                    {"is_shown": lambda _item, request: request.user.has_perm(permission)})


class ReadOnlyViewSet(ModelViewSet):
    """A Wagtail list and inspect page for records that only services write (a
    gift is what Stripe says it is; a claim is built, not typed): viewing
    follows the model's view permission, and nothing is added, edited, copied
    or deleted here (config.permissions.LimitedPolicy, registered for the model)."""

    inspect_view_enabled = True
    copy_view_enabled = False
    exclude_form_fields = []  # never shown: the policy allows no add or edit

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "model", None) is not None:
            register_permission_policy(cls.model, LimitedPolicy(cls.model, allowed={"view"}))


class ProtectedDeleteView(DeleteView):
    """Wagtail's delete, for records others point at with a protected key (a
    supporter's gifts, a bank account's statements) that Wagtail's reference index
    does not track: says why the record stays, rather than failing with a 500."""

    def post(self, request, *args, **kwargs):
        try:
            with transaction.atomic():
                return super().post(request, *args, **kwargs)
        except ProtectedError as error:
            held = sorted({str(item._meta.verbose_name_plural) for item in error.protected_objects})
            messages.error(request, f"“{self.object}” cannot be deleted: {', '.join(held)} still point at it.")
            return redirect(reverse(self.index_url_name))
