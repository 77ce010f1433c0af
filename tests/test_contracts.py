"""Our published contracts (wsdl/, xsd/) against the real CBSS ones (../shared/cbss)."""
from lxml import etree

from tests.netfixture import ROOT

W = "{http://schemas.xmlsoap.org/wsdl/}"
S = "{http://schemas.xmlsoap.org/wsdl/soap/}"
X = "{http://www.w3.org/2001/XMLSchema}"


def facts(path):
    """What a client depends on: namespaces, names, SOAPActions, message elements."""
    root = etree.parse(str(path)).getroot()
    out = {"tns": root.get("targetNamespace"), "name": root.get("name")}
    out["service"] = [(s.get("name"), [p.get("name") for p in s.iter(W + "port")])
                      for s in root.iter(W + "service")]
    out["binding"] = [(b.get("name"), b.get("type").split(":")[-1]) for b in root.iter(W + "binding")]
    out["style"] = [b.get("style") for b in root.iter(S + "binding")]
    out["actions"] = sorted((o.getparent().get("name"), o.get("soapAction"))
                            for o in root.iter(S + "operation"))
    out["messages"] = sorted((m.get("name"), [(p.get("name"), p.get("element").split(":")[-1])
                                              for p in m.iter(W + "part")])
                             for m in root.iter(W + "message") if "Fault" not in m.get("name"))
    out["elements"] = sorted((e.get("name"), e.get("type").split(":")[-1])
                             for e in root.iter(X + "element") if "Fault" not in e.get("name"))
    out["form"] = [s.get("elementFormDefault") for s in root.iter(X + "schema")]
    return out


def test_test_connection_wsdl_matches_the_real_one(cbss):
    ours = facts(ROOT / "wsdl" / "TestConnectionService.wsdl")
    real = facts(cbss / "WSDL" / "TestConnectionService.wsdl")
    assert ours == real


def complex_types(path):
    root = etree.parse(str(path)).getroot()
    return {t.get("name"): [(e.get("name"), e.get("type"), e.get("minOccurs", "1"),
                             e.get("maxOccurs", "1")) for e in t.iter(X + "element")]
            for t in root.iter(X + "complexType")}


def test_test_connection_types_match_the_real_ones(cbss):
    ours = complex_types(ROOT / "xsd" / "TestConnectionServiceV1.xsd")
    real = complex_types(cbss / "XSD" / "TestConnectionServiceV1.xsd")
    for name in ("SendTestMessageRequestType", "SendTestMessageResponseType",
                 "InformationCBSSType"):
        assert ours[name] == real[name], name


def test_common_types_match_commonv3(cbss):
    ours = complex_types(ROOT / "xsd" / "common" / "CommonV3.xsd")
    real = complex_types(cbss / "XSD" / "be" / "fgov" / "kszbcss" / "types" / "common" / "CommonV3.xsd")
    for name in ours:
        assert ours[name] == real[name], name


def test_web_service_connector_wsdl_matches_the_real_one(cbss):
    ours = facts(ROOT / "wsdl" / "WebServiceConnector.wsdl")
    real = facts(cbss / "WSDL" / "WebServiceConnector.wsdl")
    assert ours == real


def test_retrieve_ti_wsdl_matches_the_real_one(cbss):
    ours = facts(ROOT / "wsdl" / "RetrieveTIGroupsService-v2.wsdl")
    real = facts(cbss / "WSDL" / "RetrieveTIGroups-v2.wsdl")
    assert ours == real


def test_retrieve_ti_types_match_the_real_ones(cbss):
    ours = complex_types(ROOT / "xsd" / "RetrieveTIGroups" / "RetrieveTIGroupsV2.xsd")
    real = complex_types(cbss / "XSD" / "be" / "fgov" / "kszbcss" / "types" / "RetrieveTIGroups"
                         / "RetrieveTIGroupsV2.xsd")
    assert ours["SearchInformationType"] == real["SearchInformationType"]
    # The real types extend common:BaseRequestType; ours spell the same sequence out.
    base = [("informationCustomer", "common:InformationCustomerType", "1", "1"),
            ("informationCBSS", "common:InformationCBSSType", "0", "1"),
            ("legalContext", "common:LegalContextType", "1", "1")]
    assert ours["RetrieveTIGroupsRequestType"] == base + real["RetrieveTIGroupsRequestType"]
    response = real["RetrieveTIGroupsResponseType"]
    assert [e[0] for e in ours["RetrieveTIGroupsResponseType"]] == \
        [e[0] for e in base + response]
