"""The sandbox invoker's own schedule: every installation fired each interval, at its own
offset, some deliveries twice."""

from __future__ import annotations

import time
from collections import Counter


def test_schedule_fires_every_installation_each_interval_with_duplicates(forge_stack):
    invoker = forge_stack.forge.invoker
    first, second = forge_stack.install(), forge_stack.install()
    invoker.duplicate_rate = 1.0  # every firing delivered twice, to see duplicates for sure
    invoker.deliveries.clear()
    invoker.start_schedule(period=1.0)
    time.sleep(3.5)
    invoker.stop()
    fired = Counter(d.installation_id for d in invoker.deliveries if d.kind == "scheduledTrigger")
    assert set(fired) == {first.installation_id, second.installation_id}
    for count in fired.values():
        assert count % 2 == 0 and 4 <= count <= 8  # 2–4 intervals, each twice
    assert all(d.status == 204 for d in invoker.deliveries)
