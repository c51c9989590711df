"""Participation report definitions (口径) and reporting periods — pure, shared by dashboard and exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# Union reports are read by the calendar of the people filing them.
REPORT_TZ = ZoneInfo("Asia/Shanghai")
MAX_CUSTOM_DAYS = 3 * 366

DEFINITIONS: list[tuple[str, str]] = [
    ("人次", "按讲座分别统计达标的不同人数，再对讲座求和。线上讲座：统计期内完成观看（达到完成标准）；"
            "线下讲座：统计期内签到。同一人同一讲座只计一次。"),
    ("线上人次", "线上讲座的人次（完成时间在统计期内）。"),
    ("现场人次", "线下讲座的人次（签到时间在统计期内，含扫码、名单签到和现场补登）。"),
    ("人数", "统计期内至少达标一次的不同人数（线上、线下合并去重）。"),
    ("场次", "线下：开始时间在统计期内的已发布线下讲座；线上：发布时间在统计期内的线上讲座。"
            "单位管理员只统计面向本单位（或面向全体）的讲座。"),
    ("讲座数", "按讲师、按系列统计时，统计期内有人次的讲座数；一场讲座有多位讲师时，每位讲师各计一次人次。"),
    ("参与率", "人数 ÷ 单位（含下级单位）当前在册的启用人员数。"),
    ("完成率", "线上讲座：截至统计期末完成观看的人数 ÷ 截至统计期末开始观看的人数。"),
    ("单位归属", "按达标记录产生时人员所在单位统计（人员之后调动不改写历史数据）；单位数字包含全部下级单位。"),
    ("时间", "按北京时间（UTC+8）划分日、周、月、年。"),
]


class PeriodKind(StrEnum):
    week = "week"
    month = "month"
    year = "year"
    custom = "custom"


PERIOD_LABELS = {PeriodKind.week: "本周", PeriodKind.month: "本月", PeriodKind.year: "本年",
                 PeriodKind.custom: "自定义"}


class Bucket(StrEnum):
    day = "day"
    week = "week"
    month = "month"


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    first_day: date
    last_day: date  # inclusive

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, REPORT_TZ)

    @property
    def end(self) -> datetime:
        """Exclusive end instant."""
        return datetime.combine(self.last_day + timedelta(days=1), time.min, REPORT_TZ)

    @property
    def label(self) -> str:
        return f"{PERIOD_LABELS[self.kind]}（{self.first_day:%Y-%m-%d} 至 {self.last_day:%Y-%m-%d}）"

    @property
    def bucket(self) -> Bucket:
        """Trend granularity that keeps a chart readable: days up to two months, then weeks, then months."""
        days = (self.last_day - self.first_day).days + 1
        return Bucket.day if days <= 62 else Bucket.week if days <= 200 else Bucket.month


def resolve_period(kind: str, today: date, first: date | None = None, last: date | None = None) -> Period:
    """A period from the dashboard's selector; raises ValueError with a Chinese message when invalid."""
    try:
        period_kind = PeriodKind(kind)
    except ValueError:
        raise ValueError("统计周期无效") from None
    if period_kind is PeriodKind.week:
        monday = today - timedelta(days=today.weekday())
        return Period(period_kind, monday, monday + timedelta(days=6))
    if period_kind is PeriodKind.month:
        start = today.replace(day=1)
        return Period(period_kind, start, _month_end(start))
    if period_kind is PeriodKind.year:
        return Period(period_kind, date(today.year, 1, 1), date(today.year, 12, 31))
    if first is None or last is None:
        raise ValueError("自定义周期需要填写开始和结束日期")
    if last < first:
        raise ValueError("结束日期不能早于开始日期")
    if (last - first).days > MAX_CUSTOM_DAYS:
        raise ValueError("自定义周期不能超过 3 年")
    return Period(period_kind, first, last)


def person_bucket(first: date, last: date) -> tuple[str, date] | None:
    """The report_person bucket that covers exactly [first, last], if the period is one day/week/month/year."""
    if first == last:
        return "day", first
    if first.weekday() == 0 and last == first + timedelta(days=6):
        return "week", first
    if first.day == 1 and last == _month_end(first):
        return "month", first
    if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31) and first.year == last.year:
        return "year", first
    return None


def _month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def split_months(first: date, last: date) -> tuple[list[date], list[date]]:
    """Whole calendar months inside [first, last] (by their first day), and the remaining days at the edges."""
    months: list[date] = []
    days: list[date] = []
    day = first
    while day <= last:
        if day.day == 1 and _month_end(day) <= last:
            months.append(day)
            day = _month_end(day) + timedelta(days=1)
        else:
            days.append(day)
            day += timedelta(days=1)
    return months, days


def bucket_start(day: date, bucket: Bucket) -> date:
    if bucket is Bucket.day:
        return day
    if bucket is Bucket.week:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def bucket_starts(first: date, last: date, bucket: Bucket) -> list[date]:
    """Every trend bucket touching [first, last], so a chart shows empty days/weeks/months as zero."""
    starts: list[date] = []
    day = bucket_start(first, bucket)
    while day <= last:
        starts.append(day)
        day = (_month_end(day) + timedelta(days=1) if bucket is Bucket.month
               else day + timedelta(days=7 if bucket is Bucket.week else 1))
    return starts


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None
