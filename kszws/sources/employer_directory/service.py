"""The employer directory source's SOAP service (wsdl/EmployerDirectorySource.wsdl).

declareDimona(employerCbe, declarations) -> one result per declaration (dimona.py)
personnelFile(employerCbe, asOf, after?, maximum?) -> the employer's periods in force that
                                           day, by period id, a page at a time
employmentRelations(ssin, start, end?)   -> the person's periods, every employer
studentQuota(ssin, year)                 -> the yearly student quota, used and remaining

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
from kszws.sources.employer_directory import dimona, store

NS = "urn:kszws:source:employerdirectory:v1"
DEFAULT_MAXIMUM = 20
# Periods a personnelFile answer holds: the hub asks one more than its page (at most
# 5,000) to know whether another page follows.
PERSONNEL_PAGE, MAX_PERSONNEL_PAGE = 1000, 5001


def _day(text, field):
    """An ISO date sent as a string, checked here rather than by a schema pattern: Spyne
    writes pattern types into the WSDL in an order that changes from run to run."""
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        from spyne.model.fault import Fault

        raise Fault("Client", "%s %r is not a date" % (field, text[:20])) from None


class Attribute(ComplexModel):
    __namespace__ = NS
    _type_info = [("name", Unicode), ("value", Unicode), ("validFrom", Unicode),
                  ("validUntil", Unicode)]


class Employer(ComplexModel):
    __namespace__ = NS
    _type_info = [("cbe", Unicode), ("nsso", Unicode), ("register", Unicode),
                  ("startDate", Unicode), ("endDate", Unicode), ("asOf", Unicode),
                  ("attributes", Array(Attribute))]


class DimonaDeclaration(ComplexModel):
    __namespace__ = NS
    _type_info = [("action", Unicode), ("periodId", Integer), ("ssin", Unicode),
                  ("workerType", Unicode), ("startDate", Unicode), ("endDate", Unicode),
                  ("hours", Integer)]


class DimonaResult(ComplexModel):
    __namespace__ = NS
    _type_info = [("index", Integer), ("action", Unicode), ("accepted", Boolean),
                  ("reasonCode", Unicode), ("periodId", Integer)]


class EmploymentPeriod(ComplexModel):
    __namespace__ = NS
    _type_info = [("periodId", Integer), ("employerCbe", Unicode), ("ssin", Unicode),
                  ("workerType", Unicode), ("startDate", Unicode), ("endDate", Unicode),
                  ("hours", Integer)]


class StudentQuota(ComplexModel):
    __namespace__ = NS
    _type_info = [("year", Integer), ("quotaHours", Integer), ("usedHours", Integer),
                  ("remainingHours", Integer)]


def period(row):
    return EmploymentPeriod(periodId=row["period_id"], employerCbe=row["cbe"], ssin=row["ssin"],
                            workerType=row["worker_type"], startDate=row["start_date"],
                            endDate=row["end_date"], hours=row["hours"])


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
        @rpc(Unicode, Unicode, Unicode, Boolean, _returns=ConsultEmployerResult)
        def consultEmployer(ctx, cbe, nsso, asOf, history):
            day = _day(asOf, "asOf") or datetime.date.today().isoformat()

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

        @rpc(Unicode(min_occurs=1, nillable=False), Array(DimonaDeclaration),
             _returns=Array(DimonaResult))
        def declareDimona(ctx, employerCbe, declarations):
            import datetime as _dt

            asked = [dimona.Declaration(d.action or "", d.ssin or "", d.workerType, d.startDate,
                                        d.endDate, d.hours, d.periodId)
                     for d in (declarations or [])][:dimona.MAX_PER_CALL]

            def work():
                with db.engine.begin() as conn:
                    results = dimona.declare(conn, _dt.datetime.now(_dt.timezone.utc),
                                             employerCbe, asked)
                return [DimonaResult(index=r.index, action=r.action, accepted=r.accepted,
                                     reasonCode=r.reason, periodId=r.period_id)
                        for r in results]

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), Unicode, Integer, Integer,
             _returns=Array(EmploymentPeriod))
        def personnelFile(ctx, employerCbe, asOf, after, maximum):
            day = _day(asOf, "asOf") or datetime.date.today().isoformat()
            limit = min(maximum or PERSONNEL_PAGE, MAX_PERSONNEL_PAGE)

            def work():
                with db.engine.connect() as conn:
                    return [period(r) for r in dimona.personnel(conn, employerCbe, day,
                                                                after or 0, limit)]

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), Unicode(min_occurs=1, nillable=False),
             Unicode, _returns=Array(EmploymentPeriod))
        def employmentRelations(ctx, ssin, startDate, endDate):
            startDate, endDate = _day(startDate, "startDate"), _day(endDate, "endDate")

            def work():
                with db.engine.connect() as conn:
                    return [period(r) for r in dimona.relations(conn, ssin, startDate, endDate)]

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), Integer(min_occurs=1),
             _returns=StudentQuota)
        def studentQuota(ctx, ssin, year):
            def work():
                with db.engine.connect() as conn:
                    used = dimona.used_hours(conn, ssin, year)
                quota = dimona.student_quota(year)
                return StudentQuota(year=year, quotaHours=quota, usedHours=used,
                                    remainingHours=max(0, quota - used))

            return threads.deferToThread(work)

    return EmployerDirectoryService
