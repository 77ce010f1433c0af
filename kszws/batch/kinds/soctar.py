"""SOCTAR, the social energy tariff (seed §4.21; the rule and conf/soctar.toml:
batch/soctar.py), as two batch types:

    STBE  a social-security institution's beneficiaries of a quarter: each record an SSIN,
          the quarter and a category the sender's sector may declare; kept in the hub's
          database (soctar_beneficiary), answered with a code only.
    STCU  the economy ministry's energy customers (SSIN, quarter, supply address): each
          answered with SocialTariff/Flagged and, when flagged, its Category - nothing
          else about the beneficiary. The households come from the National Register in
          one call per chunk (householdsAt), the rights from one query per chunk.

Both pass the integration check of hub.access (service SocialTariff, groups Beneficiaries
and Flags, conf/access.toml) as any request does; every record has its exchange-log row,
and a flag's row names the person whose right was used, so that it is in his access log.
"""
from lxml import etree
from twisted.internet import threads

from kszws import ids
from kszws.batch import soctar
from kszws.batch.kinds.common import Context, b, first_error, named, r, schema, text
from kszws.batch.processing import REFUSALS, RESULT_NS, Judged
from kszws.clock import local_date
from kszws.hub.access import Decision
from kszws.wire.reasons import Refusal

SERVICE = "SocialTariff"
LEGAL_CONTEXT = "ENERGY:SOCIAL_TARIFF"  # when a file's header names none


class _SocialTariff:
    """What both types share: the file's authorization, the records' first checks."""
    groups = ()

    def __init__(self, registry, access, config):
        self.registry, self.access, self.config = registry, access, config
        self.schema = schema(self.type)

    def context(self, job, header):
        legal = header.findtext(b("LegalContext")) or LEGAL_CONTEXT
        day = local_date(job.received_at)
        return Context(legal, self.access.decide(job.institution, SERVICE, self.groups,
                                                 legal, None, day, day, day))

    def checked(self, index, element, context):
        """(SSIN, quarter) of a record that passes the schema and the authorization, or
        its Judged refusal."""
        if not self.schema.validate(element):
            return Judged(index, "-000050", detail=first_error(self.schema))
        raw = element.findtext(b("Ssin"))
        if not context.decision.allowed:  # as online: refused before the SSIN is read
            refusal = context.decision.refusal
            return Judged(index, REFUSALS[refusal.code], reason=refusal.code,
                          detail=refusal.detail, subjects=named(raw))
        try:
            ssin = ids.ssin(raw)
        except ids.InvalidIdentifier:
            return Judged(index, "-400010", detail="SSIN %r" % raw[:20])
        quarter = element.findtext(b("Quarter"))
        if soctar.reference_date(quarter) is None:
            return Judged(index, "-000050", ssin, detail="quarter %r" % quarter,
                          subjects={ssin})
        return ssin, quarter


class BeneficiaryList(_SocialTariff):
    """STBE: each record declares a beneficiary of a category for a quarter."""
    type = "STBE"
    groups = ("Beneficiaries",)
    chunk = 1000  # records per transaction: a list of 100,000 commits 100 times

    def judge(self, job, context, chunk):
        """A function of the chunk's connection (processing.Job.commit): the declared
        rights are written in the transaction of their results."""
        out, rights = [], []
        for index, element in chunk:
            checked = self.checked(index, element, context)
            if isinstance(checked, Judged):
                out.append(checked)
                continue
            ssin, quarter = checked
            code = element.findtext(b("Category"))
            category = self.config.categories.get(code)
            if category is None:
                out.append(Judged(index, "-700010", ssin, detail="category %r" % code[:16],
                                  subjects={ssin}))
            elif not category.declarable_by(job.institution):
                out.append(Judged(index, "-700020", ssin, reason="ACC00001", detail=(
                    "%s (sector %d.%d) may not declare category %s" % (
                        job.institution.id, job.institution.sector,
                        job.institution.subsector, code)), subjects={ssin}))
            else:
                out.append(Judged(index, "000000", ssin, subjects={ssin}))
                rights.append((quarter, ssin, code, job.institution.id, job.row["id"]))
        return lambda conn: self.keep(job, conn, rights) or out

    def keep(self, job, conn, rights):
        """The declared rights; declaring one again (a list sent twice, a chunk redone
        after a restart) changes nothing."""
        if rights:
            conn.exec_driver_sql(job.db.sql(
                "INSERT INTO soctar_beneficiary (quarter, ssin, category, institution, "
                "batch_file_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"), rights)


class CustomerList(_SocialTariff):
    """STCU: each record an energy customer; its result the flag and the category."""
    type = "STCU"
    groups = ("Flags",)
    chunk = 1000  # customers per transaction and per call to the National Register

    def __init__(self, registry, access, config, register, db, reactor):
        super().__init__(registry, access, config)
        self.register, self.db, self.reactor = register, db, reactor

    def context(self, job, header):
        context = super().context(job, header)
        if context.decision.allowed and job.institution.id not in self.config.customer_senders:
            refusal = Refusal("ACC00001", "%s may not send customer lists (conf/soctar.toml "
                                          "[customers])" % job.institution.id)
            return Context(context.legal_context, Decision((), refusal, ()))
        return context

    def judge(self, job, context, chunk):
        judged, asked = {}, {}  # asked: {quarter: {index: ssin}}
        for index, element in chunk:
            checked = self.checked(index, element, context)
            if isinstance(checked, Judged):
                judged[index] = checked
            else:
                asked.setdefault(checked[1], {})[index] = checked[0]
        for quarter, customers in asked.items():
            judged.update(self._flags(quarter, customers))
        return [judged[index] for index, _ in chunk]

    def _flags(self, quarter, customers):
        """{index: Judged} of the customers of one quarter: their households on the
        reference date (one call), the rights declared for the quarter (one query)."""
        try:
            households = threads.blockingCallFromThread(
                self.reactor, self.register.households_at, sorted(set(customers.values())),
                soctar.reference_date(quarter))
        except Refusal as refusal:  # the register did not answer: answered, not retried
            return {i: Judged(i, "-100000", s, reason=refusal.code, detail=refusal.detail,
                              subjects={s}) for i, s in customers.items()}
        everyone = set(customers.values()).union(
            *(members for _, members in households.values()))
        rights = self.rights(quarter, everyone)
        return {index: self._flag(index, ssin, households.get(ssin), rights)
                for index, ssin in customers.items()}

    def rights(self, quarter, ssins):
        """{ssin: {categories}} declared for the quarter, of those of `ssins`: one query
        on a plain DB-API cursor (Core's compiling of a few thousand IN parameters cost
        as much as the query, at every chunk)."""
        ssins = list(ssins)
        found = {}
        if not ssins:  # "IN ()" is no SQL for PostgreSQL
            return found
        raw = self.db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(self.db.sql(
                "SELECT ssin, category FROM soctar_beneficiary WHERE quarter = ? AND ssin IN "
                "(%s)" % ", ".join("?" * len(ssins))), [quarter, *ssins])
            for ssin, category in cursor.fetchall():
                found.setdefault(ssin, set()).add(category)
            cursor.close()
        finally:
            raw.close()
        return found

    def _flag(self, index, ssin, household, rights):
        if household is None:
            return Judged(index, "-400020", ssin, subjects={ssin})
        status, members = household
        if status == "cancelled":
            return Judged(index, "-400030", ssin, subjects={ssin})
        found = soctar.flag(ssin, members, rights, self.config.order)
        holder, category = found if found else (None, None)
        return Judged(index, "000000", ssin, body=result(category),
                      subjects={ssin} | ({holder} if holder else set()))


def result(category):
    """The body of an STCU result: the flag, and the category when flagged."""
    body = etree.Element(r("SocialTariff"), nsmap={"r": RESULT_NS})
    text(body, "Flagged", "true" if category else "false")
    text(body, "Category", category)
    return body
