"""The one retry loop shared by the Atlassian transport and the IdP connectors' HTTP client."""

from __future__ import annotations

import pytest
import requests

from workers.backoff import BackoffPolicy
from workers.retrying import send_with_retries

POLICY = BackoffPolicy(initial=1.0, cap=4.0, jitter_low=1.0, jitter_high=1.0, max_retries=3)


def answer(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def run(*statuses: int | Exception, renew=None, unreachable=()):  # type: ignore[no-untyped-def]
    feed = iter(statuses)
    waits: list[float] = []
    sent: list[int] = []

    def send() -> requests.Response:
        item = next(feed)
        sent.append(1)
        if isinstance(item, Exception):
            raise item
        return answer(item)

    response = send_with_retries(send, policy=POLICY, sleep=waits.append,
                                 retryable=lambda r: r.status_code >= 500,
                                 delay=lambda r, attempt: float(attempt), renew=renew,
                                 unreachable=unreachable)
    return response, waits, len(sent)


def test_a_retryable_answer_is_sent_again_until_it_succeeds() -> None:
    response, waits, sent = run(503, 502, 200)
    assert response.status_code == 200 and waits == [1.0, 2.0] and sent == 3


def test_the_budget_ends_with_the_last_answer_for_the_caller_to_explain() -> None:
    response, waits, sent = run(503, 503, 503, 503, 200)
    assert response.status_code == 503 and sent == POLICY.max_retries + 1 and len(waits) == 3


def test_a_401_renews_once_and_only_once() -> None:
    renewals: list[int] = []

    def renew(response: requests.Response) -> bool:
        renewals.append(response.status_code)
        return True

    response, waits, sent = run(401, 200, renew=renew)
    assert response.status_code == 200 and renewals == [401] and waits == []
    response, _, sent = run(401, 401, 200, renew=renew)
    assert response.status_code == 401 and sent == 2  # the second 401 is final


def test_a_renewal_that_cannot_help_leaves_the_401_to_the_caller() -> None:
    response, _, sent = run(401, 200, renew=lambda r: False)
    assert response.status_code == 401 and sent == 1


def test_no_answer_is_retried_only_when_named_and_raised_once_spent() -> None:
    drop = requests.ConnectionError("reset")
    response, waits, _ = run(drop, 200, unreachable=(requests.ConnectionError,))
    assert response.status_code == 200 and waits == [POLICY.delay(1)]
    with pytest.raises(requests.ConnectionError):
        run(drop, drop, drop, drop, unreachable=(requests.ConnectionError,))
    with pytest.raises(requests.ConnectionError):
        run(drop, 200)  # not named: straight through


def test_retryable_may_stop_the_loop_by_raising() -> None:
    class Permanent(Exception):
        pass

    def never(response: requests.Response) -> bool:
        raise Permanent()

    with pytest.raises(Permanent):
        send_with_retries(lambda: answer(500), policy=POLICY, sleep=lambda s: None,
                          retryable=never, delay=lambda r, a: 0.0)
