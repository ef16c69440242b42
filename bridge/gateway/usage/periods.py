"""The budget periods: the UTC day and the calendar month (UTC), and when each starts again."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def next_day(moment: datetime) -> datetime:
    """Midnight UTC after `moment`: when a daily budget starts again."""
    return datetime.combine(utc_day(moment) + timedelta(days=1), time(), UTC)


def next_month(moment: datetime) -> datetime:
    """The first of the next month, midnight UTC: when a monthly budget starts again."""
    day = utc_day(moment)
    first = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return datetime.combine(first, time(), UTC)
