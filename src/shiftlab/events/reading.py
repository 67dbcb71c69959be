"""Reading run events back from a bus (what ``shiftlab watch`` consumes), with the settings
the runs published with (``events.kafka`` or ``events.pubsub``): one config for both ends.

Each reader's :meth:`poll` returns the events that arrived within a timeout, decoded; a
message that is not a ``shiftlab.run-event/1`` JSON object is skipped (another program may
share the topic).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Protocol

from shiftlab.errors import ConfigError
from shiftlab.events.schema import SCHEMA

log = logging.getLogger("shiftlab.events")


class EventReader(Protocol):
    """A consumer of run events."""

    description: str

    def poll(self, timeout_s: float) -> list[dict[str, Any]]:
        """The events that arrived within ``timeout_s`` (possibly none)."""

    def close(self) -> None:
        """Leave the bus (and remove what was made only for this reader)."""


def decode(data: bytes) -> dict[str, Any] | None:
    """One message as a run event, or None when it is something else."""
    try:
        event = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or event.get("schema") != SCHEMA:
        return None
    return event


class KafkaReader:
    """A consumer in its own group (so every watcher sees every event), from the topic's
    oldest retained event (``from_start``) or from now."""

    def __init__(self, settings: dict[str, Any], from_start: bool = True) -> None:
        from confluent_kafka import Consumer

        from shiftlab.events.kafka import client_settings

        keys = ("bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_username",
                "sasl_password_env", "client_options")  # fmt: skip
        # a topic made after the watcher starts (by the first run's first event) is found
        # within seconds, not at librdkafka's default five-minute metadata refresh
        config = {"topic.metadata.refresh.interval.ms": 2000,
                  **client_settings(**{k: settings[k] for k in keys if k in settings})}  # fmt: skip
        config.update({"group.id": f"shiftlab-watch-{uuid.uuid4().hex[:12]}",
                       "auto.offset.reset": "earliest" if from_start else "latest",
                       "enable.auto.commit": False, "error_cb": self._on_error})  # fmt: skip
        self._warned = False
        self.consumer = Consumer(config)
        self.consumer.subscribe([str(settings["topic"])])
        self.description = f"Kafka topic {settings['topic']} at {settings['bootstrap_servers']}"

    def poll(self, timeout_s: float) -> list[dict[str, Any]]:
        messages = self.consumer.consume(num_messages=500, timeout=timeout_s)
        events = []
        for message in messages:
            if message.error():
                continue
            event = decode(message.value())
            if event is not None:
                events.append(event)
        return events

    def close(self) -> None:
        self.consumer.close()

    def _on_error(self, err: Any) -> None:
        if not self._warned:  # librdkafka retries by itself; a watcher says so once
            self._warned = True
            log.warning("Kafka: %s (still trying).", err)


class PubSubReader:
    """Pulls from ``subscription``, or from a subscription made for this reader (ordered by
    run, expiring a day after its last use if the reader cannot delete it). Pub/Sub delivers
    only what is published after a subscription exists, so a new one starts from now."""

    def __init__(self, settings: dict[str, Any], subscription: str | None = None) -> None:
        from shiftlab.events.pubsub import _client_module, credentials_from

        if not settings.get("project"):
            raise ConfigError(
                "shiftlab watch events=pubsub needs the project: events.pubsub.project=<id>."
            )
        pubsub_v1 = _client_module()
        credentials = credentials_from(settings.get("credentials_file"))
        self.client = pubsub_v1.SubscriberClient(credentials=credentials)
        project, topic = str(settings["project"]), str(settings["topic"])
        self.owned = subscription is None
        name = subscription or f"shiftlab-watch-{uuid.uuid4().hex[:12]}"
        self.subscription = self.client.subscription_path(project, name)
        if self.owned:
            self.client.create_subscription(request={
                "name": self.subscription,
                "topic": self.client.topic_path(project, topic),
                "enable_message_ordering": True,
                "expiration_policy": {"ttl": {"seconds": 86_400}},
            })  # fmt: skip
        self.description = f"Pub/Sub topic {topic} of project {project} ({name})"

    def poll(self, timeout_s: float) -> list[dict[str, Any]]:
        from google.api_core.exceptions import DeadlineExceeded, ServiceUnavailable

        try:
            answer = self.client.pull(request={"subscription": self.subscription,
                                               "max_messages": 500}, timeout=timeout_s)  # fmt: skip
        except (DeadlineExceeded, ServiceUnavailable):
            return []
        if not answer.received_messages:
            return []
        ack_ids = [m.ack_id for m in answer.received_messages]
        self.client.acknowledge(request={"subscription": self.subscription, "ack_ids": ack_ids})
        events = [decode(m.message.data) for m in answer.received_messages]
        return [e for e in events if e is not None]

    def close(self) -> None:
        if self.owned:
            try:
                self.client.delete_subscription(request={"subscription": self.subscription},
                                                timeout=10)  # fmt: skip
            except Exception as err:  # it expires by itself
                log.warning("Could not delete the watch subscription %s: %s",
                            self.subscription, err)  # fmt: skip
        self.client.close()


def open_reader(events_node: dict[str, Any], subscription: str | None = None,
                from_start: bool = True) -> EventReader:  # fmt: skip
    """The reader for the one bus ``events_node`` (the ``events`` config) chooses."""
    buses = [name for name, item in events_node.items() if isinstance(item, dict) and item]
    if len(buses) != 1 or buses[0] not in ("kafka", "pubsub"):
        chosen = ", ".join(buses) or "none"
        raise ConfigError(
            f"shiftlab watch reads one bus, and the config chooses {chosen}: give "
            "events=kafka or events=pubsub, with the settings the runs publish with "
            "(e.g. events.kafka.bootstrap_servers=broker:9092 events.kafka.topic=shiftlab-runs)."
        )
    settings = {k: v for k, v in events_node[buses[0]].items() if k != "_target_"}
    if buses[0] == "kafka":
        return KafkaReader(settings, from_start=from_start)
    return PubSubReader(settings, subscription=subscription)
