"""A plain spyne application on spyne's own TwistedWebResource (the way reference sources
are served), for the shim tests. Usage: python spyne_echo_server.py [--unpatch NAME]
prints the port, serves until killed. --unpatch restores spyne's original code for one shim."""
import sys

import kszws.compat.spyne as shims
from spyne import Application, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.twisted import TwistedWebResource
from spyne.server.twisted import http as twisted_http
from twisted.internet import reactor
from twisted.web.server import Site

if "--unpatch" in sys.argv:
    name = sys.argv[sys.argv.index("--unpatch") + 1]
    owner = {"get_request_method": twisted_http.TwistedHttpTransportContext,
             "_reconstruct_url": twisted_http}[name]
    setattr(owner, name, shims.ORIGINALS[(owner, name)])


class Echo(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def echo(ctx, text):
        return text


app = Application([Echo], tns="urn:kszws:test:echo", in_protocol=Soap11(), out_protocol=Soap11())
port = reactor.listenTCP(0, Site(TwistedWebResource(app)), interface="127.0.0.1")
print(port.getHost().port, flush=True)
reactor.run()
