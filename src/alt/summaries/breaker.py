"""A circuit breaker for the summary engine: when it is down, stop asking for a while.

Closed: calls go through; `failures` failures in a row open it. Open: no call until the
cool-down is over (twice as long after each reopening, capped; at least the engine's own
Retry-After). Then half-open: one probe call; success closes, failure reopens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        failures: int = 3,
        cooldown_s: float = 15.0,
        cooldown_max_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.cooldown_max_s = cooldown_max_s
        self.clock = clock
        self.failures = 0
        self.opened = 0
        self.open_until = 0.0
        self._state: State = "closed"
        self._probing = False
        self._retry_after = 0.0

    @property
    def state(self) -> State:
        if self._state == "open" and self.clock() >= self.open_until:
            self._state = "half_open"
            self._probing = False
        return self._state

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one (the probe) may."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def wait_s(self) -> float:
        return max(0.0, self.open_until - self.clock()) if self.state == "open" else 0.0

    def success(self) -> None:
        self.failures = 0
        self._retry_after = 0.0
        self.opened = 0
        self._state = "closed"
        self._probing = False

    def failure(self, retry_after_s: float | None = None) -> None:
        self.failures += 1
        self._retry_after = max(self._retry_after, retry_after_s or 0.0)
        if self._state == "half_open" or self.failures >= self.threshold:
            cooldown = min(self.cooldown_max_s, self.cooldown_s * 2**self.opened)
            self.opened += 1
            self.open_until = self.clock() + max(cooldown, self._retry_after)
            self._retry_after = 0.0
            self._state = "open"
            self._probing = False
