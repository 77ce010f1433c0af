"""What the exported SoapUI projects do: for each service, test cases of steps made by the
demo institutions on the demo data (the same people and employers as the demo's printed
walk-through), with what each reply must show.

Every test case leaves the demo as it found it (a registration is closed, a DIMONA
declaration cancelled, an attestation cancelled, a mailbox item acknowledged), so a suite
can run again and again, and in any order."""
from dataclasses import dataclass, field

from kszws.demo import ANNE, CHLOE, INCOME, MAX

ANONYMOUS = "*anonymous*"  # no WS-Security at all

# Where a new-style reply says how it went (MSG00000: as asked).
STATUS_OK = "//status/code"


@dataclass(frozen=True)
class Step:
    name: str
    service: str
    operation: str
    caller: str  # an institution id, or ANONYMOUS
    fields: dict  # as `kszws call` takes them
    checks: tuple = ()  # (XPath, expected text): SoapUI XPath Match assertions
    fault: str = ""  # a negative step: the reasonCode of the SOAP Fault it must get
    expand: dict = field(default_factory=dict)  # element name -> SoapUI property expansion


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    steps: tuple


def previous(step, path):
    """SoapUI's property expansion: `path`'s text in the reply of the step named `step`."""
    return "${%s#Response#%s}" % (step, path)


def customer(registry, who):
    return {"customerIdentification": {"cbeNumber": registry.institution(who).cbe}}


def suites(registry, examples_dir, integrator="cpas-eupen"):
    """{service name: [Case]} for the services of the demo configuration. `integrator`
    signs the echo of TestConnectionService; the other steps are made by the demo
    institution whose role they need."""
    def cbe(who):
        return registry.institution(who).cbe

    def ic(who):
        return customer(registry, who)

    def example(name):
        return (examples_dir / name).read_text(encoding="utf-8")

    proof_max = {"personData": {"lastName": "Mustermann", "firstName": "Max",
                                "birthDate": "1970-10-08"}}
    proof_anne = {"personData": {"lastName": "Van den Berghe", "firstName": "Anne-Marie",
                                 "birthDate": "1972-03-05"}}
    proof_chloe = {"personData": {"lastName": "Lefèvre", "firstName": "Chloé",
                                  "birthDate": "2001-02-03"}}
    ok = (STATUS_OK, "MSG00000")

    def unsigned(service, operation, fields):
        return Case("refused without a signature",
                    "The same request without WS-Security: the hub answers a SOAP Fault "
                    "(SEC00001) and logs the refusal.",
                    (Step("%s unsigned" % operation, service, operation, ANONYMOUS, fields,
                          fault="SEC00001"),))

    def register(name, service_caller, ssin, proof, start, quality=1):
        return Step(name, "ReferenceDirectoryService", "register", service_caller,
                    {"informationCustomer": ic(service_caller), "ssin": ssin,
                     "qualityCode": quality, "period": {"startDate": start}, "proof": proof},
                    (ok,))

    def unregister(name, service_caller, ssin, start, quality=1):
        return Step(name, "ReferenceDirectoryService", "unregister", service_caller,
                    {"informationCustomer": ic(service_caller), "ssin": ssin,
                     "qualityCode": quality, "from": start}, (ok,))

    # An attestation's reference is unique for ever (a cancelled one included): each run
    # publishes under a new one, made by SoapUI when it sends the request.
    fresh_reference = {"reference": "RI-SOAPUI-${=System.currentTimeMillis()}"}

    # Anne's integration income, published by CPAS Eupen for her health insurer, who
    # manages a file on her while the attestation and mailbox cases run.
    insurer_registers_anne = register("the insurer registers Anne", "mutualite-chretienne",
                                      ANNE, proof_anne, "2026-01-01")
    insurer_closes_annes_file = unregister("the insurer closes Anne's file",
                                           "mutualite-chretienne", ANNE, "2026-01-01")
    publish_income = Step("publishAttestation", "AttestationService", "publishAttestation",
                          "cpas-eupen", {"informationCustomer": ic("cpas-eupen"),
                                         "type": "integration_income", "ssin": ANNE,
                                         "reference": "(each run its own)",
                                         "period": {"startDate": "2026-01-01"},
                                         "decisionDate": "2025-12-15", "payload": INCOME},
                          (ok,), expand=fresh_reference)

    echo = {"echo": "hello"}
    out = {
        "TestConnectionService": [
            Case("signed echo", "A signed call: the hub echoes the message and names the "
                 "certificate that signed it.",
                 (Step("sendTestMessage", "TestConnectionService", "sendTestMessage",
                       integrator, echo, (("//echo", "hello"),)),)),
            unsigned("TestConnectionService", "sendTestMessage", echo),
        ],
        "KSZBCSSWebServiceConnector": [
            Case("IdentifyPerson by name", "Classic sendXML: a phonetic search in the "
                 "National Register (an SSDNRequest carried as text).",
                 (Step("sendXML IdentifyPerson", "KSZBCSSWebServiceConnector", "sendXML",
                       "cpas-eupen", {"xmlString": example("identify-person-phonetic.xml")},
                       (("contains(//*[local-name()='xmlString'], 'ok=\"YES\"')", "true"),)),)),
            unsigned("KSZBCSSWebServiceConnector", "sendXML",
                     {"xmlString": example("identify-person-phonetic.xml")}),
        ],
        "RetrieveTIGroupsService": [
            Case("the integration check", "Registered, the CPAS gets Max's National Register "
                 "data; its file closed, it is refused (ACC00002).",
                 (register("register Max", "cpas-eupen", MAX, proof_max, "2026-01-01"),
                  Step("retrieveTI", "RetrieveTIGroupsService", "retrieveTI", "cpas-eupen",
                       {"informationCustomer": ic("cpas-eupen"),
                        "legalContext": "PCSA:SOCIAL_INQUIRY",
                        "searchInformation": {"ssin": MAX}},
                       (("//status/value", "DATA_FOUND"),)),
                  unregister("unregister Max", "cpas-eupen", MAX, "2026-01-01"),
                  Step("retrieveTI without a file", "RetrieveTIGroupsService", "retrieveTI",
                       "cpas-eupen", {"informationCustomer": ic("cpas-eupen"),
                                      "legalContext": "PCSA:SOCIAL_INQUIRY",
                                      "searchInformation": {"ssin": MAX}},
                       fault="ACC00002"))),
        ],
        "ReferenceDirectoryService": [
            Case("a file opened, listed and closed", "The health insurer registers Anne, "
                 "lists and consults her registration, then closes it.",
                 (register("register Anne", "mutualite-chretienne", ANNE, proof_anne,
                           "2026-01-01"),
                  Step("list", "ReferenceDirectoryService", "list", "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"), "ssin": ANNE,
                        "period": {"startDate": "2026-01-01"}}, (ok,)),
                  Step("consult", "ReferenceDirectoryService", "consult",
                       "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"), "ssin": ANNE,
                        "qualityCode": 1, "period": {"startDate": "2026-01-01"}}, (ok,)),
                  unregister("unregister Anne", "mutualite-chretienne", ANNE, "2026-01-01"))),
            Case("bulk registration", "Several registrations in one call, then closed.",
                 (Step("bulkRegister", "ReferenceDirectoryService", "bulkRegister",
                       "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"),
                        "registration": [{"ssin": CHLOE, "qualityCode": 1,
                                          "period": {"startDate": "2026-01-01"}}]}, (ok,)),
                  unregister("unregister Chloé", "mutualite-chretienne", CHLOE,
                             "2026-01-01"))),
            Case("a wrong proof is refused", "A proof that does not match the National "
                 "Register: nothing is registered.",
                 (Step("register with a wrong birth date", "ReferenceDirectoryService",
                       "register", "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"), "ssin": CHLOE,
                        "qualityCode": 1, "period": {"startDate": "2026-01-01"},
                        "proof": {"personData": dict(proof_chloe["personData"],
                                                     birthDate="2001-02-04")}},
                       (("//status/code", "DIR00002"),)),)),
        ],
        "AccessLogService": [
            Case("who consulted Max's data", "A portal acting for Max himself asks who "
                 "consulted his data.",
                 (Step("consultAccessLog", "AccessLogService", "consultAccessLog",
                       "cpas-eupen", {"informationCustomer": ic("cpas-eupen"),
                                    "actingFor": {"citizen": MAX}, "ssin": MAX,
                                    "period": {"startDate": "2026-01-01"}}, (ok,)),)),
        ],
        "AuthorizationService": [
            Case("published authorizations", "Public: the authorizations of the CPAS sector, "
                 "without authentication.",
                 (Step("listAuthorizations", "AuthorizationService", "listAuthorizations",
                       ANONYMOUS, {"sector": 17},
                       (("count(//authorization) > 0", "true"),)),)),
        ],
        "MutationService": [
            Case("only an authentic source pushes mutations", "Pushing mutations is the "
                 "National Register's own job: anyone else is refused (SEC00012).",
                 (Step("notifyMutations by a CPAS", "MutationService", "notifyMutations",
                       "cpas-eupen", {"mutation": [{"seq": 1, "kind": "address", "ssin": ANNE,
                                                  "eventDate": "2026-01-01"}]},
                       fault="SEC00012"),)),
        ],
        "AttestationService": [
            Case("an attestation's life", "CPAS Eupen publishes Anne's integration income "
                 "for her health insurer, updates it, lists and consults it, and cancels "
                 "it.",
                 (insurer_registers_anne,
                  publish_income,
                  Step("updateAttestation", "AttestationService", "updateAttestation",
                       "cpas-eupen", {"informationCustomer": ic("cpas-eupen"),
                                      "attestationId": "0",
                                      "period": {"startDate": "2026-02-01"},
                                      "decisionDate": "2026-01-20", "payload": INCOME},
                       (ok,), expand={"attestationId": previous(
                           "publishAttestation", "//attestationId")}),
                  Step("listAttestations", "AttestationService", "listAttestations",
                       "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"), "ssin": ANNE,
                        "period": {"startDate": "2026-01-01"}},
                       (ok,)),
                  Step("consultAttestations", "AttestationService", "consultAttestations",
                       "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"), "ssin": ANNE,
                        "period": {"startDate": "2026-01-01"}},
                       (ok,)),
                  Step("cancelAttestation", "AttestationService", "cancelAttestation",
                       "cpas-eupen", {"informationCustomer": ic("cpas-eupen"),
                                      "attestationId": "0"},
                       (ok,), expand={"attestationId": previous(
                           "updateAttestation", "//attestationId")}),
                  insurer_closes_annes_file)),
        ],
        "MailboxService": [
            Case("an attestation through the mailbox", "The health insurer finds the "
                 "attestation CPAS Eupen published in its mailbox, fetches and acknowledges "
                 "it.",
                 (insurer_registers_anne,
                  publish_income,
                  Step("listItems", "MailboxService", "listItems", "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"),
                        "kind": "attestation", "type": ["integration_income"]},
                       (("count(//item) > 0", "true"),)),
                  Step("fetchItems", "MailboxService", "fetchItems", "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"), "id": [0]},
                       (ok,), expand={"id": previous("listItems", "//item[last()]/id")}),
                  Step("acknowledge", "MailboxService", "acknowledge", "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"), "id": [0]},
                       (ok,), expand={"id": previous("listItems", "//item[last()]/id")}),
                  Step("cancelAttestation", "AttestationService", "cancelAttestation",
                       "cpas-eupen", {"informationCustomer": ic("cpas-eupen"),
                                      "attestationId": "0"},
                       (ok,), expand={"attestationId": previous(
                           "publishAttestation", "//attestationId")}),
                  insurer_closes_annes_file)),
        ],
        "EmployerDirectoryService": [
            Case("an employer's record", "A CPAS consults an employer and searches by name.",
                 (Step("consultEmployer", "EmployerDirectoryService", "consultEmployer",
                       "cpas-eupen", {"informationCustomer": ic("cpas-eupen"),
                                    "legalContext": "PCSA:SOCIAL_INQUIRY",
                                    "employer": {"cbeNumber": cbe("boulangerie-dupont")}},
                       (ok,)),
                  Step("searchEmployers", "EmployerDirectoryService", "searchEmployers",
                       "cpas-eupen", {"informationCustomer": ic("cpas-eupen"),
                                    "legalContext": "PCSA:SOCIAL_INQUIRY",
                                    "name": "Boulangerie"}, (ok,)))),
        ],
        "PublicEmployerService": [
            Case("an employer's public fields", "Anyone, without authentication.",
                 (Step("consultPublicEmployer", "PublicEmployerService",
                       "consultPublicEmployer", ANONYMOUS,
                       {"employer": {"cbeNumber": cbe("studentenjob-brugge")}}, (ok,)),)),
        ],
        "DimonaService": [
            Case("a student's DIMONA", "Studentenjob Brugge declares Chloé, sees her in its "
                 "personnel file and her student quota, then cancels the declaration.",
                 (Step("declare IN", "DimonaService", "declare", "studentenjob-brugge",
                       {"informationCustomer": ic("studentenjob-brugge"),
                        "declaration": [{"action": "IN", "ssin": CHLOE,
                                         "workerType": "student", "startDate": "2026-08-01",
                                         "endDate": "2026-08-31", "hours": 60}]},
                       (("//result/accepted", "true"),)),
                  Step("personnelFile", "DimonaService", "personnelFile",
                       "studentenjob-brugge", {"informationCustomer": ic("studentenjob-brugge"),
                                               "asOf": "2026-08-01"}, (ok,)),
                  Step("consultWorker", "DimonaService", "consultWorker",
                       "studentenjob-brugge", {"informationCustomer": ic("studentenjob-brugge"),
                                               "ssin": CHLOE, "year": 2026}, (ok,)),
                  Step("declare CANCEL", "DimonaService", "declare", "studentenjob-brugge",
                       {"informationCustomer": ic("studentenjob-brugge"),
                        "declaration": [{"action": "CANCEL", "periodId": 0, "ssin": CHLOE}]},
                       (("//result/accepted", "true"),),
                       expand={"periodId": previous("declare IN", "//result/periodId")}))),
            Case("another employer is refused", "Boulangerie Dupont never employed Chloé: "
                 "refused (ACC00002).",
                 (Step("consultWorker", "DimonaService", "consultWorker",
                       "boulangerie-dupont", {"informationCustomer": ic("boulangerie-dupont"),
                                              "ssin": CHLOE, "year": 2026},
                       fault="ACC00002"),)),
        ],
        "EmploymentService": [
            Case("employment relations", "The health insurer, with a file on Chloé, sees "
                 "her employment relations.",
                 (register("the insurer registers Chloé", "mutualite-chretienne", CHLOE,
                           proof_chloe, "2026-01-01"),
                  Step("employmentRelations", "EmploymentService", "employmentRelations",
                       "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"),
                        "legalContext": "HEALTH:INSURABILITY", "ssin": CHLOE,
                        "startDate": "2026-01-01"}, (ok,)),
                  unregister("the insurer closes Chloé's file", "mutualite-chretienne",
                             CHLOE, "2026-01-01"))),
        ],
        "PensionCadastreService": [
            Case("a pension declared, corrected and cancelled", "ONP/RVP declares Max's "
                 "pension of a month, corrects and cancels it; the health insurer consults "
                 "his pensions, ONP/RVP the month's overview.",
                 (register("the insurer registers Max", "mutualite-chretienne", MAX,
                           proof_max, "2019-01-01"),
                  Step("declare", "PensionCadastreService", "declare", "onp-rvp",
                       {"informationCustomer": ic("onp-rvp"),
                        "declaration": [{"ssin": MAX, "month": "2019-12",
                                         "benefitReference": "(each run its own)",
                                         "benefitType": "statutory_retirement",
                                         "grossAmount": 100000,
                                         "familySituation": "single"}]},
                       (("//result/accepted", "true"),),
                       expand={"benefitReference": "RVP-SOAPUI-${=System.currentTimeMillis()}"}),
                  Step("correct", "PensionCadastreService", "correct", "onp-rvp",
                       {"informationCustomer": ic("onp-rvp"),
                        "correction": [{"declarationId": 0, "grossAmount": 110000,
                                        "familySituation": "single"}]}, (ok,),
                       expand={"declarationId": previous("declare", "//declarationId")}),
                  Step("consult", "PensionCadastreService", "consult", "mutualite-chretienne",
                       {"informationCustomer": ic("mutualite-chretienne"),
                        "legalContext": "HEALTH:INSURABILITY", "ssin": MAX,
                        "firstMonth": "2019-01"}, (ok,)),
                  register("ONP/RVP opens its pension file on Max", "onp-rvp", MAX,
                           proof_max, "2019-01-01", quality=20),
                  Step("overview", "PensionCadastreService", "overview", "onp-rvp",
                       {"informationCustomer": ic("onp-rvp"),
                        "legalContext": "PENSION:PAYMENT", "ssin": MAX,
                        "month": "2019-12"}, (ok,)),
                  unregister("ONP/RVP closes it", "onp-rvp", MAX, "2019-01-01", quality=20),
                  Step("cancel", "PensionCadastreService", "cancel", "onp-rvp",
                       {"informationCustomer": ic("onp-rvp"), "declarationId": [0]}, (ok,),
                       expand={"declarationId": previous("correct", "//declarationId")}),
                  unregister("the insurer closes Max's file", "mutualite-chretienne", MAX,
                             "2019-01-01"))),
            Case("a month is closed by the cadastre only", "Closing a month is the "
                 "cadastre's own job: a pension payer is refused.",
                 (Step("closeMonth by a payer", "PensionCadastreService", "closeMonth",
                       "onp-rvp", {"informationCustomer": ic("onp-rvp"), "month": "2019-12"},
                       fault="ACC00001"),)),
        ],
    }
    for name, cases in out.items():
        first = next(step for case in cases for step in case.steps if step.service == name)
        if not any(step.fault for case in cases for step in case.steps):
            if first.caller == ANONYMOUS:
                cases.append(malformed(name, first))
            else:
                cases.append(unsigned(name, first.operation, first.fields))
    return {name: cases for name, cases in out.items() if name in registry.services}


def malformed(service, step):
    """A public service's negative case: a field that is not of its type."""
    name, value = next(iter(step.fields.items()))
    return Case("refused when malformed", "A request the contract does not allow: a SOAP "
                "Fault (MSG00008), logged.",
                (Step("%s malformed" % step.operation, service, step.operation, ANONYMOUS,
                      step.fields, fault="MSG00008", expand={name: "not-a-valid-value"}),))


def callers(cases):
    """The institutions whose keys sign some step of `cases`."""
    return {step.caller for case in cases for step in case.steps} - {ANONYMOUS}
