"""One permission policy for records that services write: staff reach them
through the model's own permissions, but only for the actions allowed here."""

from wagtail.permission_policies import ModelPermissionPolicy


class LimitedPolicy(ModelPermissionPolicy):
    """The model's permissions, for the actions in `allowed` only (e.g. a gift is
    what Stripe says it is: viewed, never edited; a suppression is added, never lifted)."""

    def __init__(self, model, *, allowed):
        super().__init__(model)
        self.allowed = frozenset(allowed)

    def user_has_permission(self, user, action):
        return action in self.allowed and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        return self.user_has_permission(user, action)

    def user_has_any_permission_for_instance(self, user, actions, instance):
        return self.user_has_any_permission(user, actions)

