"""The spyne 2.14.0 shims, all of them, in one place.

spyne 2.14.0 is the last release and predates Python 3.11-era Twisted. Importing this
module (before any `spyne.server.twisted` import) applies these fixes; each has a test in
tests/test_compat_spyne.py that fails without it:

1. `twisted.python.constants` was removed in Twisted 24.11; spyne's Twisted transport
   imports `Flags` and `FlagConstant` from it. The same classes live on in `constantly`
   (Twisted's own successor package): alias the module.
2. The Twisted transport context returns the HTTP method as bytes (b'POST') and Soap11
   compares it with 'POST', so every SOAP POST answers 405. Return a str.
3. `GET ?wsdl` builds the service URL by joining str with the bytes path: TypeError.
   Rebuild the URL from decoded parts.
4. Every SOAP request is fed to cgi.FieldStorage, looking for multipart file uploads
   (~1 ms for a 5 KB envelope). Only a multipart/* request can carry files: skip the
   others.
5. MethodContext.close() runs a full gc.collect() whenever a second has passed since the
   last one (to release the files of uploads, which kszws never takes): a pause of tens
   of milliseconds on a large heap, on the reactor thread. Switch it off; the processes
   tune the collector themselves (kszws/gctuning.py).
"""
import sys
import types

import constantly

from kszws.httputil import public_url


def _alias_twisted_constants():
    if "twisted.python.constants" in sys.modules:
        return
    module = types.ModuleType("twisted.python.constants")
    module.__doc__ = "Alias of constantly, installed by kszws.compat.spyne."
    for name in ("NamedConstant", "Names", "ValueConstant", "Values", "FlagConstant", "Flags"):
        setattr(module, name, getattr(constantly, name))
    sys.modules["twisted.python.constants"] = module
    import twisted.python

    twisted.python.constants = module


# What each shim replaced, so that tests can show the defect on spyne's own code.
ORIGINALS = {}


def _replace(owner, name, value):
    ORIGINALS.setdefault((owner, name), getattr(owner, name))
    setattr(owner, name, value)


def _install_transport_fixes():
    from spyne.server.twisted import http as twisted_http

    def get_request_method(self):
        method = self.req.method
        return method.decode("latin-1") if isinstance(method, bytes) else method

    def reconstruct_url(request):
        return public_url(request, with_query=True)

    original_file_info = twisted_http._get_file_info

    def get_file_info(ctx):
        content_type = ctx.transport.req.getHeader(b"content-type") or b""
        if not content_type.lower().startswith(b"multipart/"):
            return []
        return original_file_info(ctx)

    _replace(twisted_http.TwistedHttpTransportContext, "get_request_method", get_request_method)
    _replace(twisted_http, "_reconstruct_url", reconstruct_url)
    if twisted_http._get_file_info is original_file_info:
        _replace(twisted_http, "_get_file_info", get_file_info)


def _no_forced_collections():
    from spyne import const

    _replace(const, "MIN_GC_INTERVAL", float("inf"))


def install():
    """Apply every shim; idempotent."""
    _alias_twisted_constants()
    _install_transport_fixes()
    _no_forced_collections()


install()
