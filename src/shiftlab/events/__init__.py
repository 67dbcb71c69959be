"""Run events: what a run does, published as JSON to message buses (Kafka, Pub/Sub) for
dashboards, alerting and schedulers, without ever slowing or failing the run."""
