"""Small HTTP facts shared by the hub's Twisted resources and the spyne shims."""


def _text(value):
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


def public_url(request, with_query=False):
    """The URL the client used for this Twisted request, honouring the X-Forwarded-Host,
    -Proto and -Port headers a reverse proxy sets (the live ?wsdl of CBSS once returned an
    unusable address behind one: CONTRACTS.md §1B)."""
    host = _text(request.getHeader(b"x-forwarded-host")) or _text(request.getRequestHostname())
    proto = _text(request.getHeader(b"x-forwarded-proto"))
    secure = proto == "https" if proto else bool(request.isSecure())
    port = _text(request.getHeader(b"x-forwarded-port"))
    # isdigit() alone admits "²": only ASCII digits of a real port are taken.
    port = int(port) if port.isascii() and port.isdigit() and 0 < int(port) < 65536 \
        else request.getHost().port
    if (secure, port) not in ((True, 443), (False, 80)):
        host = "%s:%d" % (host, port)
    path = _text(request.uri if with_query else request.path)
    return "%s://%s%s" % ("https" if secure else "http", host, path)
