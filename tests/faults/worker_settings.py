"""The test settings, with mail written to a file: for the worker drill's
subprocesses (`manage.py db_worker`), whose memory the test cannot read."""

from config.settings.test import *  # noqa: F403

EMAIL_BACKEND = "tests.faults.mail_backend.EmailBackend"
