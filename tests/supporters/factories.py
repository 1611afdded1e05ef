import factory

from supporters.models import Supporter


class SupporterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supporter

    first_name = factory.Sequence(lambda n: f"Jane{n}")
    last_name = "Doe"
    email = factory.Sequence(lambda n: f"jane{n}@example.org")
    address_house = "12"
    address_street = "High Street"
    address_town = "London"
    postcode = "N16 8AA"
    country = "GB"
