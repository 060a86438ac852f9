"""How many downloads fetch_many runs at once (emtk3s/infra/http/fetcher.py: _run): two, and
one more (up to -j) for every download whose connection or server had waits worth hiding."""

from __future__ import annotations

import threading
import time

import pytest

from emtk3s.infra.http import Download, Fetched
from emtk3s.infra.http.fetcher import LATENT_RTT, SLOW_ANSWER, _run


class Counting:
    """A stand-in for one download: counts how many run at once, takes ``hold`` seconds."""

    def __init__(self, rtt: float = 0.0, answered: float = 0.0, hold: float = 0.01) -> None:
        self.rtt, self.answered, self.hold = rtt, answered, hold
        self.now = self.most = self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, dl: Download) -> Fetched:
        with self.lock:
            self.calls += 1
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        if dl.name == "bad":
            raise RuntimeError("boom")
        return Fetched(dl.name, dl.url, "0" * 64, 1, True, 1, self.answered, self.rtt)


def _todo(n: int) -> list[tuple[int, Download]]:
    return [(i, Download(f"f{i}", f"https://mirror.invalid/f{i}", None)) for i in range(n)]


def test_a_mirror_without_latency_gets_two_threads() -> None:
    one = Counting()
    got = sorted(i for i, _res in _run(_todo(40), one, 8))
    assert got == list(range(40)) and one.most == 2


@pytest.mark.parametrize(("rtt", "answered"), [(LATENT_RTT, 0.0), (0.0, SLOW_ANSWER)])
def test_a_latent_network_or_a_slow_server_gets_every_job(rtt: float, answered: float) -> None:
    one = Counting(rtt=rtt, answered=answered)
    list(_run(_todo(40), one, 8))
    assert one.most == 8


def test_one_job_runs_in_this_thread_and_errors_are_results() -> None:
    one = Counting(rtt=1.0)
    todo = [*_todo(3), (3, Download("bad", "https://mirror.invalid/bad", None))]
    out = list(_run(todo, one, 1))
    assert one.most == 1 and [i for i, _ in out] == [0, 1, 2, 3]
    assert isinstance(out[3][1], RuntimeError)


def test_an_early_stop_starts_nothing_more_and_waits_for_those_under_way() -> None:
    one = Counting(rtt=1.0, hold=0.05)
    runs = _run(_todo(100), one, 4)
    next(runs)
    runs.close()  # as fetch_many does when a result makes it raise
    assert one.now == 0, "every download under way has ended"
    calls = one.calls
    assert calls < 10, "of 100"
    time.sleep(0.1)
    assert one.now == 0 and one.calls == calls, "and none started after"
