"""A plain spyne application on spyne's own TwistedWebResource (the way reference sources
are served), for the shim tests. Usage: python spyne_echo_server.py [--unpatch NAME]
prints the port, serves until killed. --unpatch restores spyne's original code for one shim.
Logging is set up as `kszws source` sets it up (WARNING and above to standard error)."""
import logging
import sys

import kszws.compat.spyne as shims
from spyne import Application, ServiceBase, Unicode, rpc
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.twisted import TwistedWebResource
from spyne.server.twisted import http as twisted_http
from twisted.internet import reactor, task
from twisted.web.server import Site

logging.basicConfig(level=logging.WARNING,
                    format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")

if "--unpatch" in sys.argv:
    name = sys.argv[sys.argv.index("--unpatch") + 1]
    # "disconnect_guards": the four reply-writing steps of shim 6 together.
    names = {"disconnect_guards": ["_cb_deferred", "_eb_deferred", "_cb_request_finished",
                                   "_eb_request_finished"]}.get(name, [name])
    for name in names:
        owner = twisted_http.TwistedHttpTransportContext \
            if name == "get_request_method" else twisted_http
        setattr(owner, name, shims.ORIGINALS[(owner, name)])


class Echo(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def echo(ctx, text):
        return text

    @rpc(Unicode, _returns=Unicode)
    def slow(ctx, text):
        """Answers after a second, as a source does from its thread pool (a Deferred)."""
        return task.deferLater(reactor, 1.0, lambda: text)

    @rpc(Unicode, _returns=Unicode)
    def slow_refusal(ctx, text):
        """Refuses after a second (a source's Client.* fault, from its thread pool)."""
        def refuse():
            raise Fault("Client.TEST0001", "refused: %s" % text)
        return task.deferLater(reactor, 1.0, refuse)


app = Application([Echo], tns="urn:kszws:test:echo", in_protocol=Soap11(), out_protocol=Soap11())
port = reactor.listenTCP(0, Site(TwistedWebResource(app)), interface="127.0.0.1")
print(port.getHost().port, flush=True)
reactor.run()
