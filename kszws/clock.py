"""The one clock of the hub: aware UTC datetimes (tests replace it), and the Belgian
calendar day that periods, authorizations and dates on the wire are written in."""
import datetime
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")  # tzdata is a dependency: no system zone files needed


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def naive_utc(moment):
    """A datetime as the databases store it: UTC, without tzinfo (naive ones are UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def local_date(moment):
    """The Belgian calendar day of an aware datetime."""
    return moment.astimezone(BRUSSELS).date()


def local_day_start(day):
    """The aware datetime at which the Belgian calendar day `day` begins."""
    return datetime.datetime.combine(day, datetime.time(), BRUSSELS)
