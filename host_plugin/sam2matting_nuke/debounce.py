"""Debounced calls: knob edits arrive in bursts while a handle is dragged; act once it rests.

The call runs on Nuke's main thread (through `post`), never inside knobChanged itself.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Hashable


class Debouncer:
    def __init__(self, delay_s: float, post: Callable[..., None]) -> None:
        self.delay_s = delay_s
        self._post = post
        self._timers: Dict[Hashable, threading.Timer] = {}
        self._lock = threading.Lock()

    def trigger(self, key: Hashable, call: Callable[..., Any], *args: Any) -> None:
        """(Re)start the quiet period for `key`; `call(*args)` runs when it ends."""
        timer = threading.Timer(self.delay_s, self._fire, (key, call, args))
        timer.daemon = True
        with self._lock:
            old = self._timers.pop(key, None)
            if old is not None:
                old.cancel()
            self._timers[key] = timer
        timer.start()

    def _fire(self, key: Hashable, call: Callable[..., Any], args: Any) -> None:
        with self._lock:
            if self._timers.get(key) is not threading.current_thread():
                return  # superseded by a later trigger
            del self._timers[key]
        self._post(call, *args)

    def pending(self) -> int:
        with self._lock:
            return len(self._timers)

    def cancel_all(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
