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
6. A reply ready after its caller has gone (the hub gave up on a slow source and closed
   the connection) is still written: `registerProducer` on the lost channel raises
   AttributeError, the fault spyne then writes raises RuntimeError from `finish()`, and
   each is logged at ERROR with its traceback (dozens per stall). Drop such a reply
   before anything is written, in one line at INFO. An operation that failed
   unexpectedly is still logged at ERROR (a defect of the source, whoever waits for it).

And one addition, a protocol rather than a fix: `RecordSoap11`, Soap11 whose serialiser
writes plain records (ComplexModels of text, integer and boolean fields, records and
arrays of them) in one direct pass instead of spyne's generator per member (~5x faster:
the National Register source spent a third of its time there). It writes exactly what
Soap11 writes (tests/test_compat_spyne.py compares the two on every reply the sources
publish) and leaves anything else to spyne. Its companion `plain(cls, **fields)` builds
such a record without spyne's per-member constructor.
"""
import logging
import sys
import types

import constantly
from lxml import etree
from spyne import Boolean, ComplexModelBase, Integer, Unicode
from spyne.const.xml import DEFAULT_NS
from spyne.model.complex import XmlAttribute, XmlData
from spyne.protocol.soap import Soap11

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


class _NotPlain(Exception):
    """A value the direct pass does not write as spyne would: spyne writes it instead."""


_TEXT, _INT, _BOOL, _RECORD = range(4)


class RecordSoap11(Soap11):
    """Soap11 with a direct serialiser for plain records (see the module's docstring)."""

    def complex_to_parent(self, ctx, cls, inst, parent, ns, name=None, add_type=False, **kw):
        plan = self._plan(cls)
        if plan is None or add_type or kw or not isinstance(parent, etree._Element):
            return super().complex_to_parent(ctx, cls, inst, parent, ns, name, add_type, **kw)
        tag_name, tag_ns = self._name_ns(cls, name, ns)
        element = etree.Element("{%s}%s" % (tag_ns, tag_name) if tag_ns else tag_name)
        record = cls.get_serialization_instance(inst)
        try:
            if isinstance(record, dict):
                raise _NotPlain
            _fill(element, plan, record)
        except _NotPlain:
            return super().complex_to_parent(ctx, cls, inst, parent, ns, name, add_type, **kw)
        parent.append(element)
        return None

    def _name_ns(self, cls, name, ns):
        """The element's name and namespace, as spyne's complex_to_parent picks them."""
        attrs = self.get_cls_attrs(cls)
        if attrs.sub_name is not None:
            name = attrs.sub_name
        if name is None:
            name = cls.get_type_name()
        if attrs.sub_ns not in (None, DEFAULT_NS):
            ns = attrs.sub_ns
        return name, ns

    def _plan(self, cls):
        plans = self.__dict__.setdefault("_record_plans", {})
        if cls not in plans:
            plans[cls] = None  # a record that contains itself is not plain
            plans[cls] = self._make_plan(cls)
        return plans[cls]

    def _make_plan(self, cls):
        """[(attribute, tag, kind, sub-plan, many)] for a plain record class, else None."""
        attrs = self.get_cls_attrs(cls)
        if self.polymorphic or getattr(cls, "__extends__", None) is not None \
                or attrs.prot is not None:
            return None
        plan = []
        for key, member in cls._type_info.items():
            member_attrs = self.get_cls_attrs(member)
            if member_attrs.exc:
                continue
            if member.Attributes.min_occurs > 0 or member_attrs.default is not None \
                    or member_attrs.prot is not None \
                    or issubclass(member, (XmlAttribute, XmlData)):
                return None
            ns = member.Attributes.sub_ns or cls.get_namespace()
            name = member.Attributes.sub_name or key
            kind, sub = self._kind(member, member_attrs)
            if kind is None:
                return None
            if kind == _RECORD:  # its own element name, as spyne would pick it
                name, ns = self._name_ns(member, name, ns)
            plan.append((key, "{%s}%s" % (ns, name) if ns else name, kind, sub,
                         member.Attributes.max_occurs > 1))
        return plan

    def _kind(self, member, member_attrs):
        if issubclass(member, Boolean):
            return _BOOL, None
        if issubclass(member, Integer):
            plain = member_attrs.str_format is None and member_attrs.format is None
            return (_INT, None) if plain else (None, None)
        if issubclass(member, Unicode):
            return _TEXT, None
        if issubclass(member, ComplexModelBase):
            sub = self._plan(member)
            return (_RECORD, (member, sub)) if sub is not None else (None, None)
        return None, None


def _fill(element, plan, inst):
    for key, tag, kind, sub, many in plan:
        value = getattr(inst, key, None)
        if value is None:
            continue  # spyne leaves out an empty optional member
        for item in (value if many else (value,)):
            if item is None:
                raise _NotPlain  # spyne writes xsi:nil for it
            child = etree.SubElement(element, tag)
            if kind == _TEXT:
                if not isinstance(item, str):
                    raise _NotPlain
                child.text = item
            elif kind == _INT:
                int(item)  # spyne's sanity check
                child.text = str(item)
            elif kind == _BOOL:
                child.text = "true" if item else "false"
            else:
                member, member_plan = sub
                record = member.get_serialization_instance(item)
                if isinstance(record, dict):
                    raise _NotPlain
                _fill(child, member_plan, record)


_PLAIN_KEYS = {}


def plain(cls, **fields):
    """`cls(**fields)` for a record class whose members have no default and none is
    read-only (what ComplexModelBase.__init__ does for it: every member None, then the
    fields), without spyne's per-member work: a quarter of the National Register's
    consultPersons went there. Any other class is built by spyne itself."""
    keys = _PLAIN_KEYS.get(cls)
    if keys is None:
        keys = _PLAIN_KEYS[cls] = _plain_keys(cls)
    if not keys:
        return cls(**fields)
    inst = cls.__new__(cls)
    inst.__dict__.update(keys)
    inst.__dict__.update(fields)
    return inst


def _plain_keys(cls):
    """{member: None} of a plain record class, or {} when spyne must build it."""
    if hasattr(cls, "_sa_class_manager") or getattr(cls, "__extends__", None) is not None:
        return {}
    for key, member in cls._type_info.items():
        attrs = member.Attributes
        if attrs.default is not None or attrs.default_factory is not None \
                or attrs.read_only or isinstance(getattr(cls, key, None), property):
            return {}
    return dict.fromkeys(cls._type_info)


log = logging.getLogger("kszws.compat.spyne")


def _abandoned(request):
    """True once the caller's connection is gone: nothing can be written to it any more."""
    return request._disconnected


def _drop(request, p_ctx, failure=None):
    """Release an abandoned request's context; say so in one line."""
    from spyne.model.fault import Fault

    if failure is not None and not failure.check(Fault):
        log.error("%s failed (its caller had left): %s", _method(p_ctx),
                  failure.getTraceback())
    else:
        log.info("%s: the caller left before the reply; reply dropped", _method(p_ctx))
    p_ctx.close()


def _method(p_ctx):
    descriptor = getattr(p_ctx, "descriptor", None)
    return getattr(descriptor, "name", None) or "request"


def _install_disconnect_guards():
    """Shim 6: each step that writes the reply first checks that someone still waits."""
    from spyne.server.twisted import http as twisted_http
    from twisted.web.server import NOT_DONE_YET

    if (twisted_http, "_cb_deferred") in ORIGINALS:
        return
    cb_deferred, eb_deferred = twisted_http._cb_deferred, twisted_http._eb_deferred
    cb_finished, eb_finished = (twisted_http._cb_request_finished,
                                twisted_http._eb_request_finished)

    def guarded_cb_deferred(ret, request, p_ctx, others, resource, cb=True):
        if _abandoned(request):
            _drop(request, p_ctx)
            return NOT_DONE_YET
        return cb_deferred(ret, request, p_ctx, others, resource, cb)

    def guarded_eb_deferred(ret, request, p_ctx, others, resource):
        if _abandoned(request):
            return _drop(request, p_ctx, ret)
        return eb_deferred(ret, request, p_ctx, others, resource)

    def guarded_cb_finished(retval, request, p_ctx):
        if _abandoned(request):  # lost while the reply was being written
            return _drop(request, p_ctx)
        return cb_finished(retval, request, p_ctx)

    def guarded_eb_finished(retval, request, p_ctx):
        if _abandoned(request):  # the producer was stopped by the lost connection
            return _drop(request, p_ctx)
        return eb_finished(retval, request, p_ctx)

    _replace(twisted_http, "_cb_deferred", guarded_cb_deferred)
    _replace(twisted_http, "_eb_deferred", guarded_eb_deferred)
    _replace(twisted_http, "_cb_request_finished", guarded_cb_finished)
    _replace(twisted_http, "_eb_request_finished", guarded_eb_finished)


def install():
    """Apply every shim; idempotent."""
    _alias_twisted_constants()
    _install_transport_fixes()
    _no_forced_collections()
    _install_disconnect_guards()


install()
