"""A mail backend for the worker drill's subprocesses: each message's recipient
is appended to a file (FAULTS_MAIL_LOG) as it is sent, after FAULTS_MAIL_DELAY
seconds, so that the test can count what every process sent and kill one mid-way."""

import os
import time

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def send_messages(self, messages):
        delay = float(os.environ.get("FAULTS_MAIL_DELAY", "0"))
        for message in messages:
            time.sleep(delay)
            with open(os.environ["FAULTS_MAIL_LOG"], "a") as log:
                log.write(",".join(message.to) + "\n")
        return len(messages)
