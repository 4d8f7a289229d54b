"""Time in a question: what period it asks about, and whether it wants the latest reports.

    >>> s = scope("What did the talks look like in mid-October?", dt.date(2025, 11, 30))
    >>> s.start, s.end, s.latest
    (datetime.date(2025, 10, 11), datetime.date(2025, 10, 20), False)
    >>> scope("How many points does the plan have now?", dt.date(2025, 11, 30)).latest
    True
    >>> s = scope("What happened last week?", dt.date(2025, 11, 30))   # a Sunday: Nov 17-23
    >>> s.start, s.end
    (datetime.date(2025, 11, 17), datetime.date(2025, 11, 23))

Expressions are resolved against the question's date (`Config.as_of`, else today): yesterday, today,
this/last week, month or year, N days/weeks/months ago, a month (with or without its year, early/
mid/late), a year, a full date, and "since"/"before"/"after" any of these or an event ("since the
summit"), which the caller resolves to the date of the report that best matches it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable

from .text import CARDINALS, MONTHS as MONTH_NAMES

MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, 1)} | {m[:3]: i for i, m in enumerate(MONTH_NAMES, 1)} | {"sept": 9}
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
LATEST = re.compile(r"\b(latest|newest|most recent(?:ly)?|now|currently|current|still|so far|to date|"
                    r"at present|at the moment|these days|as of (?:today|now))\b", re.I)
_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30, "year": 365, "years": 365}


@dataclass(frozen=True)
class Scope:
    start: dt.date | None = None  # the first day the question asks about (inclusive)
    end: dt.date | None = None  # the last day (inclusive)
    latest: bool = False  # it asks for the newest reports ("latest", "now", "still", "so far", or the present
    #                       tense: "What is the rate?")
    phrase: str = ""  # the calendar words that set the period ("in May 2020"; "" for an event's)
    event: bool = False  # the period is dated by an event ("before the summit"): a guess, so a preference,
    #                      never a filter (reports about an event often come out after it)

    def content(self, question: str) -> str:
        """The question without its calendar words, which a date filter reads instead: "the levy in May
        2020" must not rank a report that says "meet again in May" first."""
        if not self.phrase:
            return question
        rest = re.sub(rf"\b(?:in|on|during|of)?\s*{re.escape(self.phrase)}", " ", question, count=1, flags=re.I)
        rest = " ".join(rest.split())
        return rest if re.search(r"\w", rest) else question

    @property
    def dated(self) -> bool:
        return self.start is not None or self.end is not None

    def holds(self, day: dt.date | None) -> bool:
        """Whether a report of that day falls in the period (an undated one always may)."""
        if day is None:
            return True
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


def parse_day(text: str) -> dt.date | None:
    """An ISO date ("2025-11-26", or the start of a longer timestamp) as a date; None otherwise."""
    try:
        return dt.date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


def today(as_of: str) -> dt.date:
    """The question's date: `as_of` (YYYY-MM-DD) or the machine's today."""
    return parse_day(as_of) or dt.date.today()


def scope(question: str, day: dt.date, event: Callable[[str], dt.date | None] | None = None) -> Scope:
    """The period and the latest-wish of a question asked on `day`; `event(phrase)` dates an event."""
    q = " ".join(question.split())
    latest = bool(LATEST.search(q) or _PRESENT.search(q))  # "What is the rate?" asks about it now
    m = re.search(r"\b(since|after|before|until|by)\s+(.+?)(?:[?,;]|$)", q, re.I)
    if m:
        word, rest = m.group(1).lower(), m.group(2)
        found = _period(rest, day)
        point = None if found is None else (found[0] if word in ("since", "after") else found[1])
        phrase, by_event = m.group(0).rstrip("?,; "), False
        if point is None and event is not None:
            point, phrase, by_event = event(rest), "", True  # an event's words are what the question is about
        if point is not None:
            if word == "since":
                return Scope(point, day, True, phrase, by_event)
            if word == "after":
                return Scope(point + dt.timedelta(days=1), day, latest, phrase, by_event)
            return Scope(None, point - dt.timedelta(days=1) if word == "before" else point, False, phrase, by_event)
    found = _period(q, day)
    if found is not None:
        start, end, phrase = found
        return Scope(start, end, latest, phrase)
    return Scope(latest=latest)


def _period(text: str, day: dt.date) -> tuple[dt.date, dt.date, str] | None:
    """The first time expression in the text as (start, end, the words)."""
    t = text.lower()
    m = re.search(r"\b(yesterday|today|tonight|this morning)\b", t)
    if m:
        d = day - dt.timedelta(days=1) if m.group(1) == "yesterday" else day
        return d, d, m.group()
    m = re.search(r"\b(this|last|past|previous)\s+(week|month|year)\b", t)
    if m:
        back = m.group(1) != "this"
        if m.group(2) == "week":
            monday = day - dt.timedelta(days=day.weekday())
            start = monday - dt.timedelta(days=7) if back else monday
            return start, (start + dt.timedelta(days=6)) if back else day, m.group()
        if m.group(2) == "month":
            if not back:
                return day.replace(day=1), day, m.group()
            last = day.replace(day=1) - dt.timedelta(days=1)
            return last.replace(day=1), last, m.group()
        year = day.year - back
        return dt.date(year, 1, 1), (dt.date(year, 12, 31) if back else day), m.group()
    m = re.search(r"\b(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+(days?|weeks?|months?|years?)\s+ago\b", t)
    if m:
        n = 1 if m.group(1) in ("a", "an") else CARDINALS.index(m.group(1)) if m.group(1) in CARDINALS else None or int(m.group(1))
        span = _UNITS[m.group(2)]
        center = day - dt.timedelta(days=n * span)
        slack = dt.timedelta(days=max(1, span // 2))
        return center - slack, min(day, center + slack), m.group()
    m = re.search(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", t)
    if m and int(m.group(2)) <= 31:
        month = MONTHS[m.group(1).rstrip(".")]
        year = int(m.group(3)) if m.group(3) else _recent_year(month, int(m.group(2)), day)
        try:
            d = dt.date(year, month, int(m.group(2)))
            return d, d, m.group()
        except ValueError:
            pass
    m = re.search(rf"\b(early|mid|middle of|late|end of)?[\s-]*{_MONTH}(?:\s+(?:of\s+)?(\d{{4}}))?\b", t)
    if m and (m.group(3) or re.search(rf"\b(in|during|of|since|before|after|until|by)\s+(?:early|mid|late)?[\s-]*{_MONTH}", t)):
        month = MONTHS[m.group(2).rstrip(".")]
        year = int(m.group(3)) if m.group(3) else _recent_year(month, 1, day)
        last = calendar.monthrange(year, month)[1]
        part = (m.group(1) or "").strip()
        lo, hi = {"early": (1, 10), "mid": (11, 20), "middle of": (11, 20), "late": (21, last),
                  "end of": (21, last)}.get(part, (1, last))
        return dt.date(year, month, lo), dt.date(year, month, hi), m.group().strip(" -")
    m = re.search(r"\b(?:in|during|of|since|before|after|until|by|the)\s+((?:19|20)\d\d)\b", t)
    if m:
        year = int(m.group(1))
        return dt.date(year, 1, 1), dt.date(year, 12, 31), m.group()
    return None


def _recent_year(month: int, day_of_month: int, day: dt.date) -> int:
    """The year of the most recent such month (and day) on or before `day`: "in October" asked in
    November 2025 is October 2025; asked in February 2026, it is October 2025 too."""
    return day.year if (month, day_of_month) <= (day.month, day.day) else day.year - 1


_PRESENT = re.compile(r"^\W*(?:\w+\s+){0,4}?(is|are|has|have|does|do)\b", re.I)


def asks_current_state(question: str, answer: str = "") -> bool:
    """A question about something that can change: it asks for the latest, or asks in the present
    tense for a figure ("How many points does the plan have?", answered "19 points")."""
    if LATEST.search(question):
        return True
    return bool(_PRESENT.search(question)) and bool(re.search(r"\d", answer))


def spelled(day: dt.date) -> str:
    """ "Nov. 26, 2025": how an answer dates what it says (AP style: short months abbreviated)."""
    short = {1: "Jan.", 2: "Feb.", 8: "Aug.", 9: "Sept.", 10: "Oct.", 11: "Nov.", 12: "Dec."}
    return f"{short.get(day.month, calendar.month_name[day.month])} {day.day}, {day.year}"
