"""One Retry-After parser, by RFC 9110 §10.2.3: ASCII delay-seconds or an HTTP-date.

ERR-8 and the client's retry share it, so the suite never accepts what the client refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.checks import errors
from conformance.engine.outcome import Failed
from voicebox_api import parse_retry_after

NOW = datetime(2026, 12, 4, 19, 0, 0, tzinfo=UTC)
ASCII_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=30)
WHOLE_SECOND = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@given(ASCII_DIGITS)
def test_ascii_digits_are_delay_seconds(value: str) -> None:
    assert parse_retry_after(value) == float(int(value))


@given(ASCII_DIGITS, st.sampled_from([" ", "\t", ""]))
def test_surrounding_whitespace_is_ignored(value: str, space: str) -> None:
    assert parse_retry_after(f"{space}{value}{space}") == float(int(value))


NON_ASCII_DIGITS = st.characters(categories=["Nd", "No"]).filter(lambda c: c not in "0123456789")


@given(ASCII_DIGITS, NON_ASCII_DIGITS, st.integers(min_value=0, max_value=30))
def test_a_digit_that_is_not_ascii_makes_the_value_invalid(
    value: str, digit: str, where: int
) -> None:
    position = min(where, len(value))
    assert parse_retry_after(value[:position] + digit + value[position:]) is None


@pytest.mark.parametrize("value", ["٣", "²", "-1", "+5", "1.5", "1e3", "", "5 s", "0x10"])
def test_values_that_are_not_delay_seconds(value: str) -> None:
    assert parse_retry_after(value) is None


@given(WHOLE_SECOND)
def test_imf_fixdate_gives_the_seconds_until_then(when: datetime) -> None:
    value = format_datetime(when, usegmt=True)
    assert parse_retry_after(value, now=NOW) == max(0.0, (when - NOW).total_seconds())


@given(WHOLE_SECOND)
def test_the_obsolete_date_forms_are_accepted(when: datetime) -> None:
    asctime = when.strftime("%a %b ") + f"{when.day:2d}" + when.strftime(" %H:%M:%S %Y")
    assert parse_retry_after(asctime, now=NOW) == max(0.0, (when - NOW).total_seconds())
    rfc850 = when.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    assert parse_retry_after(rfc850, now=NOW) is not None


@pytest.mark.parametrize(
    "value",
    [
        "Fri, 04 Dec 2026 19:00:00 +0000",  # HTTP-date is GMT, not a numeric zone
        "04 Dec 2026 19:00:00 GMT",  # no day name
        "Fri, 31 Feb 2026 19:00:00 GMT",
        "Fri, 04 Dec 2026 25:00:00 GMT",
        "tomorrow",
    ],
)
def test_dates_that_are_not_http_dates(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_a_date_in_the_past_is_no_wait() -> None:
    past = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past, now=NOW) == 0.0


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_without_raising(value: str) -> None:
    result = parse_retry_after(value)
    assert result is None or result >= 0


class _Overloaded:
    def __init__(self, retry_after: str) -> None:
        self.answer = httpx.Response(
            503, headers=[(b"retry-after", retry_after.encode())], json={"detail": "busy"}
        )

    def responses_seen(self) -> list[httpx.Response]:
        return [self.answer]


@pytest.mark.parametrize("value", ["٣", "²", "1.5"])
def test_err_8_refuses_what_the_client_refuses(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "overload_burst", lambda s: [])
    with pytest.raises(Failed):
        errors.overload_answers_carry_retry_after(_Overloaded(value))  # type: ignore[arg-type]


def test_err_8_accepts_an_http_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "overload_burst", lambda s: [])
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    errors.overload_answers_carry_retry_after(_Overloaded(later))  # type: ignore[arg-type]
