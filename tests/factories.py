"""factory_boy factories for the shared models. Domain tests add their own next to them."""

from __future__ import annotations

import itertools

import factory

from backend.accounts.models import User
from backend.organizations.models import Branch, Membership, Organization, OrganizationKind, Role

_phone_seq = itertools.count(1)


def next_phone(prefix: str = "+7701") -> str:
    """Unique valid Kazakh mobile numbers: +7701 000 00 01, ..."""
    return f"{prefix}{next(_phone_seq):07d}"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    phone = factory.LazyFunction(next_phone)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    language = "en"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    kind = OrganizationKind.BEAUTY_SALON
    country = "KZ"
    time_zone = "Asia/Almaty"
    currency = "KZT"


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Branch {n}")
    address = "Abay Ave 1"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.MANAGER
