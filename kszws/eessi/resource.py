"""The access point's Outbox and Inbox as twisted.web resources, and the web site of the
demo's foreign access point (which runs without the hub's hardened HubSite)."""
from twisted.web import resource, server

from kszws.eessi import msh
from kszws.security.authn import Transport


class As4Resource(resource.Resource):
    """The Outbox or the Inbox (eessi/msh.py): AS4 over POST; anything else, or a body
    over the site's size limit, gets an ebMS error signal and a log row."""

    isLeaf = True

    def __init__(self, access_point, box):
        super().__init__()
        self.access_point = access_point
        self.box = box

    def render(self, request):
        transport = Transport.of(request)
        if request.method != b"POST":
            d = self.access_point.refuse(self.box, transport, "method %s: AS4 messages are "
                                         "POSTed" % request.method.decode("latin-1")[:16])
        elif getattr(request, "too_large", False):  # the hub's LimitedRequest
            d = self.access_point.refuse(self.box, transport, "the message exceeds %d bytes"
                                         % request.channel.site.max_body_bytes)
        else:
            request.content.seek(0)
            d = self.access_point.handle(
                self.box, transport, request.content.read(),
                (request.getHeader(b"content-type") or b"").decode("latin-1"))
        d.addCallback(_send, request)
        return server.NOT_DONE_YET


def _send(answer, request):
    if request._disconnected or request.finished:
        return
    request.setResponseCode(answer.status)
    request.setHeader(b"content-type", answer.content_type.encode("latin-1"))
    request.setHeader(b"content-length", b"%d" % len(answer.body))
    request.write(answer.body)
    request.finish()


def resources(access_point):
    """(path, resource) of the Outbox and the Inbox."""
    return [(msh.OUTBOX_PATH, As4Resource(access_point, "Outbox")),
            (msh.INBOX_PATH, As4Resource(access_point, "Inbox"))]


def site(access_point):
    """A plain twisted.web site serving the Outbox and the Inbox at their paths."""
    root = resource.Resource()
    for path, leaf in resources(access_point):
        node = root
        *folders, name = path.strip("/").split("/")
        for folder in folders:
            child = node.children.get(folder.encode())
            if child is None:
                child = resource.Resource()
                node.putChild(folder.encode(), child)
            node = child
        node.putChild(name.encode(), leaf)
    made = server.Site(root)
    made.displayTracebacks = False
    return made
