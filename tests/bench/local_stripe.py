"""The tests' local Stripe (tests/stripe_server.py) for the benchmark, with one
fix for size.

localstripe lists objects by scanning its whole store, and exporting a charge
lists its refunds, so every PaymentIntent created or fetched scans every object
ever made: at 10,000 gifts a call takes tens of milliseconds and the benchmark
would measure that scan. Here each kind of object is also kept in its own dict
and lists scan only their kind: the same answers, in the same order.

    python -m tests.bench.local_stripe --port 8420
"""

import collections

from localstripe import resources

from tests import stripe_server

_by_kind: dict[str, dict[str, object]] = collections.defaultdict(dict)


def _kind(key: str) -> str:
    return key.split(":", 1)[0]


def _index_the_store() -> None:
    store_class = resources.Store
    set_item, del_item, clear = store_class.__setitem__, store_class.__delitem__, store_class.clear

    def setitem(self, key, value):
        set_item(self, key, value)
        _by_kind[_kind(key)][key] = value

    def delitem(self, key):
        del_item(self, key)
        _by_kind[_kind(key)].pop(key, None)

    def clear_all(self):
        clear(self)
        _by_kind.clear()

    store_class.__setitem__, store_class.__delitem__, store_class.clear = setitem, delitem, clear_all

    def list_all(cls, url, limit=None, starting_after=None, **kwargs):
        # localstripe's StripeObject._api_list_all, reading one kind's dict.
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        listing = resources.List(url, limit=limit, starting_after=starting_after)
        listing._list = list(_by_kind[cls.object].values())
        return listing

    resources.StripeObject._api_list_all = classmethod(list_all)


if __name__ == "__main__":
    _index_the_store()
    stripe_server.main()
