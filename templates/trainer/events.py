"""The event protocol (docs/protocol.md): one JSON object per line, appended to $LLMOPS_EVENTS.

Whole lines, flushed one by one, so the reader never sees half an event. A heartbeat thread writes
{"type":"heartbeat"} when nothing else was written for a while (a long eval or export), so a
supervisor can tell a slow run from a dead one.
"""
import json
import math
import os
import threading
import time


def _clean(v):
    # NaN/inf are not JSON; report them as null rather than emitting an unparsable line.
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


class Events:
    def __init__(self, path=None, enabled=True, heartbeat_s=15.0):
        self.path = path if path is not None else os.environ.get("LLMOPS_EVENTS")
        self.enabled = bool(self.path) and enabled
        self._lock = threading.Lock()
        self._last = time.time()
        self._stop = threading.Event()
        self._f = open(self.path, "a", encoding="utf-8") if self.enabled else None
        if self.enabled and heartbeat_s:
            t = threading.Thread(target=self._beat, args=(heartbeat_s,), daemon=True)
            t.start()

    def emit(self, type_, **fields):
        if not self.enabled:
            return
        event = {"type": type_, "ts": time.time()}
        event.update(_clean(fields))
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()
            self._last = time.time()

    def _beat(self, every):
        while not self._stop.wait(min(every, 1.0)):
            if time.time() - self._last >= every:
                self.emit("heartbeat")

    def close(self):
        self._stop.set()
        if self._f:
            with self._lock:
                try:
                    os.fsync(self._f.fileno())
                except OSError:
                    pass
                self._f.close()
                self._f = None
                self.enabled = False
