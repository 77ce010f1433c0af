"""The one clock of the hub: aware UTC datetimes (tests replace it)."""
import datetime


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)
