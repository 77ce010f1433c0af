"""The one clock of the hub: aware UTC datetimes (tests replace it)."""
import datetime


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def naive_utc(moment):
    """A datetime as the databases store it: UTC, without tzinfo (naive ones are UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment
