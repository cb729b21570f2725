"""The one retry loop of every outbound client: resend a retryable answer, renew the credential once on a 401.

The Atlassian transport and the IdP connectors' HTTP client differ in what they call
retryable and how long they wait (both through `workers.backoff`), and in how a credential
is renewed; the order of the decisions, the retry budget and the single renewal live here.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from workers.backoff import BackoffPolicy

Send = Callable[[], requests.Response]
CUT_OFF = (requests.exceptions.ChunkedEncodingError,)
"""The server answered but the body stopped part-way (a dropped connection mid-stream): worth
sending again, like no answer at all."""
# Called before each wait: (retry number, the answer or None for no answer, seconds)
OnRetry = Callable[[int, "requests.Response | None", float], None]


def send_with_retries(send: Send, *, policy: BackoffPolicy, sleep: Callable[[float], None],
                      retryable: Callable[[requests.Response], bool],
                      delay: Callable[[requests.Response, int], float],
                      renew: Callable[[requests.Response], bool] | None = None,
                      unreachable: tuple[type[Exception], ...] = (),
                      on_retry: OnRetry | None = None) -> requests.Response:
    """The last answer of one logical request: a final one, or the last retryable one once
    `policy.max_retries` retries are spent (the caller turns it into its own error).

    After a 401, `renew(response)` runs once per request; True sends it again at once.
    `retryable` may raise to stop at once (a permanent or deferred failure). An exception of
    an `unreachable` type (no answer at all) is retried too, and raised when the budget is
    spent; any other exception passes straight through.
    """
    attempt = 0
    renewed = False
    while True:
        try:
            response = send()
        except unreachable:
            if attempt >= policy.max_retries:
                raise
            attempt += 1
            wait = policy.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, None, wait)
            sleep(wait)
            continue
        if response.status_code == 401 and renew is not None and not renewed:
            renewed = True  # a token revoked early or rotated elsewhere: one renewal, no more
            if renew(response):
                continue
        if retryable(response) and attempt < policy.max_retries:
            attempt += 1
            wait = delay(response, attempt)
            if on_retry is not None:
                on_retry(attempt, response, wait)
            sleep(wait)
            continue
        return response
