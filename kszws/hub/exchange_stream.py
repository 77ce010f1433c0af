"""One line per exchange on a stream, for a log shipper (JSON) or a person at a terminal
(human): `[logging] exchanges` in conf/kszws.toml (off, stdout, stderr or a file) and
`format` (auto: human on a terminal, JSON elsewhere). A line holds the ticket, who called
what, the outcome and its code, sizes and the duration: never personal data (no SSIN, no
detail text); the exchange log in the database keeps the rest, under its hash chain."""
import json
import logging
import logging.handlers
import sys

log = logging.getLogger("kszws.exchanges")


def configure(destination, fmt, project_root):
    """Send exchange lines to `destination` (off | stdout | stderr | a file path, relative
    to the project) in `fmt` (auto | json | human)."""
    for handler in list(log.handlers):
        log.removeHandler(handler)
    if destination == "off":
        return
    if destination in ("stdout", "stderr"):
        handler = logging.StreamHandler(getattr(sys, destination))
    else:
        path = project_root / destination
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(path)  # logrotate moves it away
    terminal = getattr(handler.stream, "isatty", lambda: False)()
    handler.setFormatter(Human() if fmt == "human" or (fmt == "auto" and terminal)
                         else Json())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def record(exchange):
    """Write the exchange's line (nothing when the stream is off)."""
    if log.handlers:
        log.info("exchange", extra={"exchange": fields(exchange)})


def fields(exchange):
    seconds = exchange.seconds
    return {
        "time": exchange.received_at.isoformat(timespec="milliseconds"),
        "ticket": exchange.ticket,
        "caller": exchange.caller,
        "sector": exchange.sector,
        "auth": exchange.auth_method,
        "service": exchange.service,
        "operation": exchange.operation,
        "outcome": exchange.outcome,
        "code": exchange.reason_code,
        "duration_ms": round(seconds * 1000, 3) if seconds is not None else None,
        "request_bytes": exchange.request_size,
        "reply_bytes": exchange.reply_size,
    }


class Json(logging.Formatter):
    def format(self, record):
        return json.dumps(record.exchange, ensure_ascii=False, separators=(",", ":"))


class Human(logging.Formatter):
    def format(self, record):
        e = record.exchange
        return "%s %s %-20s %s.%s %s %s %s ms" % (
            e["time"], e["ticket"], e["caller"] or "-", e["service"], e["operation"] or "-",
            e["outcome"], e["code"], "-" if e["duration_ms"] is None else e["duration_ms"])
