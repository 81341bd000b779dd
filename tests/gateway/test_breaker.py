from cluster.gateway.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_recovers_through_one_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown=10, clock=clock)
    for _ in range(2):
        breaker.failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.success()  # a success resets the count
    for _ in range(3):
        assert breaker.acquire()
        breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.available() and not breaker.acquire()

    clock.now = 10.0
    assert breaker.available()
    assert breaker.acquire()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.acquire(), "only one probe at a time"
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.acquire()


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=5, clock=clock)
    breaker.failure()
    clock.now = 5.0
    assert breaker.acquire()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    clock.now = 9.9
    assert not breaker.available()
    clock.now = 10.0
    assert breaker.available()


def test_abandoned_probe_lets_the_next_one_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=1, clock=clock)
    breaker.failure()
    clock.now = 1.0
    assert breaker.acquire()
    breaker.release()
    assert breaker.acquire()
