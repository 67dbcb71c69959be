"""Run events to Google Cloud Pub/Sub through google-cloud-pubsub, imported only when
``events=pubsub`` is chosen.

Credentials are Google's standard ones (``GOOGLE_APPLICATION_CREDENTIALS`` or the
environment's default account), or a service-account key file named by ``credentials_file``;
``PUBSUB_EMULATOR_HOST`` sends everything to the emulator, as every Google client does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

from shiftlab.errors import ConfigError
from shiftlab.events.background import BackgroundPublisher

log = logging.getLogger("shiftlab.events")


def _client_module() -> Any:
    try:
        from google.cloud import pubsub_v1
    except ImportError as err:
        raise ConfigError(
            "events=pubsub needs Google's Pub/Sub client: pip install 'shiftlab[pubsub]' "
            "(google-cloud-pubsub), or choose events=none."
        ) from err
    return pubsub_v1


def credentials_from(credentials_file: str | None) -> Any:
    """The service-account credentials of ``credentials_file`` (None: Google's defaults,
    which read ``GOOGLE_APPLICATION_CREDENTIALS``). The key is read here and never copied."""
    if not credentials_file:
        return None
    path = Path(os.path.expanduser(str(credentials_file)))
    if not path.is_file():
        raise ConfigError(
            f"events.pubsub.credentials_file={credentials_file} is not a file: give the path "
            "of a service-account key (JSON), or leave it null to use "
            "GOOGLE_APPLICATION_CREDENTIALS or the machine's default account."
        )
    from google.oauth2 import service_account

    try:
        return service_account.Credentials.from_service_account_file(str(path))
    except (ValueError, KeyError) as err:
        raise ConfigError(
            f"events.pubsub.credentials_file={credentials_file} is not a service-account key "
            f"({type(err).__name__}): download a JSON key for the account that publishes."
        ) from None


class PubSubTransport:
    """A publisher for one topic, each run's events in order (ordering key: the run id).

    Args:
        project: the Google Cloud project of the topic.
        topic: the topic's id (not its full path).
        create_topic: create the topic when it does not exist (needs the Pub/Sub Editor
            role; on the emulator, where topics start empty, it is what one wants).
        credentials_file: a service-account key; None uses Google's default credentials.
        delivery_timeout_s: an event not confirmed by then counts as dropped.
    """

    name = "Pub/Sub"

    def __init__(
        self,
        project: str,
        topic: str,
        create_topic: bool = False,
        credentials_file: str | None = None,
        delivery_timeout_s: float = 30.0,
    ) -> None:
        if not project:
            raise ConfigError(
                "events=pubsub needs the Google Cloud project: events.pubsub.project=<id>."
            )
        pubsub_v1 = _client_module()
        from google.api_core.retry import Retry

        self.credentials = credentials_from(credentials_file)
        self.client = pubsub_v1.PublisherClient(
            credentials=self.credentials,
            publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
        )
        self.topic_path = self.client.topic_path(str(project), str(topic))
        self.create_topic = bool(create_topic)
        self.delivery_timeout_s = float(delivery_timeout_s)
        self.retry = Retry(timeout=self.delivery_timeout_s)
        self.failed = 0
        self.pending: set[Any] = set()
        self._lock = threading.Lock()
        self._topic_checked = False

    def send(self, key: str, value: bytes) -> None:
        if not self._topic_checked:
            self._topic_checked = True
            if self.create_topic:
                self._ensure_topic()
        future = self.client.publish(self.topic_path, value, ordering_key=key,
                                     retry=self.retry, timeout=self.delivery_timeout_s)  # fmt: skip
        with self._lock:
            self.pending.add(future)
        future.add_done_callback(lambda done, key=key: self._delivered(done, key))

    def close(self, timeout_s: float) -> int:
        from concurrent.futures import wait

        with self._lock:
            pending = list(self.pending)
        _, not_done = wait(pending, timeout=timeout_s)
        self.client.stop()  # sends what is batched; the client's threads end
        return len(not_done) + self.failed

    def _delivered(self, future: Any, key: str) -> None:
        with self._lock:
            self.pending.discard(future)
        if future.exception() is not None:
            self.failed += 1
            # an ordered key stops after a failure until resumed: the run's next events go on
            self.client.resume_publish(self.topic_path, key)

    def _ensure_topic(self) -> None:
        from google.api_core.exceptions import AlreadyExists

        with contextlib.suppress(AlreadyExists):
            self.client.create_topic(name=self.topic_path, timeout=self.delivery_timeout_s)


def pubsub_events(**settings: Any) -> BackgroundPublisher:
    """``events=pubsub``: a background publisher over :class:`PubSubTransport`."""
    return BackgroundPublisher(PubSubTransport(**settings))
