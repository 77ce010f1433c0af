"""The employer directory source's SOAP service (wsdl/EmployerDirectorySource.wsdl).

consultEmployer(cbe?, nsso?, asOf?, history?) -> the employer: numbers, register, employer
                           status, and its attributes as they were on `asOf` (default
                           today), or every value each attribute had (history)
searchEmployers(name, municipalityCode?, maximum?) -> employers whose current name holds
                           `name` (accents and case aside), with their current attributes

Database work runs in Twisted's thread pool: the reactor never waits on it.
"""
import datetime

from spyne import Array, Boolean, ComplexModel, Integer, ServiceBase, Unicode, rpc
from twisted.internet import threads

from kszws import names
from kszws.sources.employer_directory import store

NS = "urn:kszws:source:employerdirectory:v1"
DEFAULT_MAXIMUM = 20
DATE = r"[1-2][0-9]{3}-[0-1][0-9]-[0-3][0-9]"


class Attribute(ComplexModel):
    __namespace__ = NS
    _type_info = [("name", Unicode), ("value", Unicode), ("validFrom", Unicode),
                  ("validUntil", Unicode)]


class Employer(ComplexModel):
    __namespace__ = NS
    _type_info = [("cbe", Unicode), ("nsso", Unicode), ("register", Unicode),
                  ("startDate", Unicode), ("endDate", Unicode), ("asOf", Unicode),
                  ("attributes", Array(Attribute))]


class ConsultEmployerResult(ComplexModel):
    __namespace__ = NS
    _type_info = [("found", Boolean), ("employer", Employer)]


def employer_record(conn, row, day=None, history=False):
    """An Employer: attributes as of `day` (ISO), or all of them with `history`."""
    if history:
        rows = store.history(conn, row["cbe"])
    else:
        current = store.as_of(conn, row["cbe"], day)
        rows = [(name, value, valid_from, valid_until)
                for name, value, valid_from, valid_until in store.history(conn, row["cbe"])
                if current.get(name) == value and valid_from <= day
                and (valid_until is None or valid_until >= day)]
    return Employer(cbe=row["cbe"], nsso=row["nsso"], register=row["register"],
                    startDate=row["start_date"], endDate=row["end_date"],
                    asOf=None if history else day,
                    attributes=[Attribute(name=n, value=v, validFrom=f, validUntil=u)
                                for n, v, f, u in rows])


def service(db):
    class EmployerDirectoryService(ServiceBase):
        @rpc(Unicode, Unicode, Unicode(pattern=DATE), Boolean, _returns=ConsultEmployerResult)
        def consultEmployer(ctx, cbe, nsso, asOf, history):
            day = asOf or datetime.date.today().isoformat()

            def work():
                with db.engine.connect() as conn:
                    row = store.find(conn, cbe=cbe, nsso=nsso) if (cbe or nsso) else None
                    if row is None:
                        return ConsultEmployerResult(found=False)
                    return ConsultEmployerResult(found=True, employer=employer_record(
                        conn, row, day, bool(history)))

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), Integer, Integer, _returns=Array(Employer))
        def searchEmployers(ctx, name, municipalityCode, maximum):
            day = datetime.date.today().isoformat()

            def work():
                with db.engine.connect() as conn:
                    found = store.search(conn, names.fold(name), municipalityCode,
                                         min(maximum or DEFAULT_MAXIMUM, 100))
                    return [employer_record(conn, store.find(conn, cbe=c), day) for c in found]

            return threads.deferToThread(work)

    return EmployerDirectoryService
