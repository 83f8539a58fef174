"""A delivering process killed in the middle of its run: what was sent stays sent, what was never
attempted is sent by the next run, and at most the one message in flight is in doubt — listed
for an administrator, never resent on its own. Nobody gets a message twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from models import outbox
from models.enums import NotificationStatus
from tests.notify.test_delivery import deliver, rows, stage
from tests.receivers import use_apprise_config, write_apprise_yaml

MESSAGES = 8


def test_sigkill_mid_delivery_loses_nothing_and_sends_nothing_twice(
    committed_db, http_receiver, time_machine, tmp_path, monkeypatch
):
    # One webhook channel (a second channel would make the kill land between two services).
    channel_file = write_apprise_yaml(
        tmp_path / "apprise.yml", {http_receiver.url("li"): ["person-li"]}
    )
    use_apprise_config(monkeypatch, channel_file)
    for i in range(MESSAGES):
        stage(key=f"event:{i}")
    http_receiver.delay = 0.4  # a slow channel: the kill lands while messages are in flight
    sender = subprocess.Popen(
        [sys.executable, "-c", "from tasks.notify import deliver_notifications as d; d.fn()"],
        env=dict(os.environ),  # the same case file and channel file
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(http_receiver.to("li")) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(http_receiver.to("li")) >= 3, "the sender never got going"
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait()
    http_receiver.delay = 0
    before = [r.status for r in rows()]
    assert before.count(NotificationStatus.SENDING) <= 1, before  # one message in flight, at most
    assert before.count(NotificationStatus.PENDING) >= MESSAGES - 4, before

    # The next run sends everything never attempted; the one in flight waits for a person.
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11), tick=True)
    result = deliver()
    after = rows()
    statuses = Counter(r.status for r in after)
    assert statuses[NotificationStatus.SENT] + statuses[NotificationStatus.UNKNOWN] == MESSAGES
    assert statuses[NotificationStatus.UNKNOWN] == before.count(NotificationStatus.SENDING)
    assert result.get("sent", 0) == before.count(NotificationStatus.PENDING)

    received = Counter(m.data["event_key"] for m in http_receiver.to("li"))
    assert all(n == 1 for n in received.values()), received  # nobody got anything twice
    assert len(received) >= statuses[NotificationStatus.SENT]
    with_doubt = [r.id for r in after if r.status == NotificationStatus.UNKNOWN]
    from config.db import session_scope

    with session_scope() as session:
        listed = [n.id for n in outbox.undelivered(session, limit=50, offset=0).data]
    assert listed == with_doubt
