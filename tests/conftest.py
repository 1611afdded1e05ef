import os

import pytest
from django.contrib.auth.models import Group

from tests.supporters.factories import SupporterFactory

# Playwright's sync API runs an event loop in the test thread; Django would
# otherwise refuse ORM calls made in the same thread by our fixtures.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _staff(django_user_model, username, group=None, superuser=False):
    user = django_user_model.objects.create_user(
        username=username, password="pass-word-123", email=f"{username}@example.org",
        first_name=username.capitalize(), is_superuser=superuser, is_staff=superuser,
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def fundraiser(django_user_model):
    return _staff(django_user_model, "fundraiser", group="Fundraising")


@pytest.fixture
def finance_user(django_user_model):
    return _staff(django_user_model, "finance", group="Finance")


@pytest.fixture
def admin_user(django_user_model):
    return _staff(django_user_model, "admin", superuser=True)


@pytest.fixture
def fundraiser_client(client, fundraiser):
    client.force_login(fundraiser)
    return client


@pytest.fixture
def finance_client(client, finance_user):
    client.force_login(finance_user)
    return client


@pytest.fixture
def supporter_factory():
    return SupporterFactory
