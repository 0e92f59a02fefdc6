"""The ``Retry-After`` header, read by RFC 9110 §10.2.3: ``delay-seconds / HTTP-date``.

``delay-seconds`` is ``1*DIGIT``, and DIGIT is ASCII 0-9 only (RFC 5234), so ``"٣"`` or ``"²"``
is not a delay. An HTTP-date is an IMF-fixdate, or one of the two obsolete forms a recipient
must still accept (RFC 9110 §5.6.7); all three are in GMT.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

__all__ = ["parse_retry_after"]

_DELAY_SECONDS: Final = re.compile(r"[0-9]+")
_DAY: Final = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_LONG_DAY: Final = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTHS: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
_MONTH: Final = "|".join(_MONTHS)
_TIME: Final = r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})"
_IMF_FIXDATE: Final = re.compile(
    rf"(?:{_DAY}), (?P<d>[0-9]{{2}}) (?P<mon>{_MONTH}) (?P<y>[0-9]{{4}}) {_TIME} GMT"
)
_RFC850_DATE: Final = re.compile(
    rf"(?:{_LONG_DAY}), (?P<d>[0-9]{{2}})-(?P<mon>{_MONTH})-(?P<y>[0-9]{{2}}) {_TIME} GMT"
)
_ASCTIME_DATE: Final = re.compile(
    rf"(?:{_DAY}) (?P<mon>{_MONTH}) (?P<d>[0-9 ][0-9]) {_TIME} (?P<y>[0-9]{{4}})"
)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value; None when absent or not valid by RFC 9110.
    A date in the past gives 0."""
    if value is None:
        return None
    value = value.strip(" \t")
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)  # float, not int: no limit on the number of digits
    when = http_date(value)
    if when is None:
        return None
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def http_date(value: str) -> datetime | None:
    """An HTTP-date in any of its three forms, as an aware UTC datetime; None otherwise."""
    for form in (_IMF_FIXDATE, _RFC850_DATE, _ASCTIME_DATE):
        match = form.fullmatch(value)
        if match:
            return _datetime(match, two_digit_year=form is _RFC850_DATE)
    return None


def _datetime(match: re.Match[str], *, two_digit_year: bool) -> datetime | None:
    year = int(match["y"])
    if two_digit_year:  # RFC 9110: a year more than 50 years ahead is in the past century
        this_year = datetime.now(UTC).year
        year += this_year - this_year % 100
        if year > this_year + 50:
            year -= 100
    try:
        return datetime(
            year,
            _MONTHS.index(match["mon"]) + 1,
            int(match["d"].strip()),
            int(match["h"]),
            int(match["m"]),
            min(int(match["s"]), 59),  # a leap second reads as the second before it
            tzinfo=UTC,
        )
    except ValueError:  # 31 Feb, hour 25
        return None
