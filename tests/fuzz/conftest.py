"""Hypothesis's settings for the fuzz tests: a bounded number of examples, so
that the whole set runs in well under a minute (HYPOTHESIS_PROFILE=fuzz-long for
a deeper run), no deadline (a shared machine is slow at times), and no example
database left in the project."""

import os

from hypothesis import HealthCheck, settings

# Each test's examples share its database transaction; counting rows before and
# after each example is what proves a rejection wrote nothing.
_SHARED = {"deadline": None, "database": None, "print_blob": True,
           "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large, HealthCheck.filter_too_much]}
settings.register_profile("fuzz", max_examples=25, **_SHARED)
settings.register_profile("fuzz-long", max_examples=500, **_SHARED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))
