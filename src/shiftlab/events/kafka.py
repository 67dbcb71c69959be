"""Run events to Apache Kafka through confluent-kafka (librdkafka), imported only when
``events=kafka`` is chosen."""

from __future__ import annotations

import logging
import os
from typing import Any

from shiftlab.errors import ConfigError
from shiftlab.events.background import BackgroundPublisher

log = logging.getLogger("shiftlab.events")


class KafkaTransport:
    """A producer for one topic. The SASL password is read from the environment variable
    ``sasl_password_env`` names, so it is never in a config, a log or an event."""

    name = "Kafka"

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        security_protocol: str = "PLAINTEXT",
        sasl_mechanism: str | None = None,
        sasl_username: str | None = None,
        sasl_password_env: str | None = None,
        delivery_timeout_s: float = 30.0,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        try:
            from confluent_kafka import Producer
        except ImportError as err:
            raise ConfigError(
                "events=kafka needs the confluent-kafka client: pip install confluent-kafka "
                "(or choose events=none)."
            ) from err
        producer_defaults = {"message.timeout.ms": int(delivery_timeout_s * 1000),
                             "linger.ms": 20, "error_cb": self._on_error}  # fmt: skip
        common = client_settings(bootstrap_servers, security_protocol, sasl_mechanism,
                                 sasl_username, sasl_password_env, client_options)  # fmt: skip
        settings = {**producer_defaults, **common}  # client_options may change the defaults
        self.topic = str(topic)
        self.failed = 0
        self.errors: list[str] = []
        self.producer = Producer(settings)

    def send(self, key: str, value: bytes) -> None:
        try:
            self.producer.produce(self.topic, key=key.encode(), value=value,
                                  on_delivery=self._delivered)  # fmt: skip
        except BufferError:
            self.producer.poll(0.1)  # the client's own queue is full: room, or drop
            self.producer.produce(self.topic, key=key.encode(), value=value,
                                  on_delivery=self._delivered)  # fmt: skip
        self.producer.poll(0)

    def close(self, timeout_s: float) -> int:
        left = self.producer.flush(timeout_s)
        return int(left) + self.failed

    def _delivered(self, err: Any, message: Any) -> None:
        if err is not None:
            self.failed += 1

    def _on_error(self, err: Any) -> None:
        if len(self.errors) < 3:
            self.errors.append(str(err))


def client_settings(
    bootstrap_servers: str,
    security_protocol: str = "PLAINTEXT",
    sasl_mechanism: str | None = None,
    sasl_username: str | None = None,
    sasl_password_env: str | None = None,
    client_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka settings for the producer of a run and the consumer of ``shiftlab watch``
    (one config, ``events.kafka``, for both): the password from the environment."""
    settings: dict[str, Any] = {
        "bootstrap.servers": str(bootstrap_servers),
        "security.protocol": str(security_protocol),
        "client.id": "shiftlab",
        "logger": _quiet_librdkafka(),
        **dict(client_options or {}),
    }
    if sasl_mechanism:
        settings["sasl.mechanism"] = str(sasl_mechanism)
        if sasl_username:
            settings["sasl.username"] = str(sasl_username)
        if sasl_password_env:
            password = os.environ.get(str(sasl_password_env))
            if password is None:
                raise ConfigError(
                    f"events.kafka.sasl_password_env={sasl_password_env}, but that "
                    "environment variable is not set: export it with the SASL password "
                    "(the password itself never goes in a config)."
                )
            settings["sasl.password"] = password
    return settings


def _quiet_librdkafka() -> logging.Logger:
    """librdkafka's own log lines (a retry per second while a broker is down) go to a
    logger that keeps only errors out of the training log; the publisher warns once."""
    logger = logging.getLogger("shiftlab.events.librdkafka")
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    return logger


def kafka_events(**settings: Any) -> BackgroundPublisher:
    """``events=kafka``: a background publisher over :class:`KafkaTransport`."""
    return BackgroundPublisher(KafkaTransport(**settings))
