// A Java WS-Security client, as SoapUI and the Java clients of the real CBSS are: the JDK's
// XML Signature API (JSR 105, Apache Santuario inside), keys from the PKCS#12 keystore and
// truststore that `kszws pki keystore` / `kszws pki truststore` write. Used by
// tests/test_java_client.py (which compiles it once with javac).
//
// Signs a request the way WSS4J does (BinarySecurityToken, Timestamp, one signature over the
// Body and the Timestamp, exclusive C14N, RSA-SHA256, SHA-256 digests), posts it, and checks
// the reply's signature with the truststore. Prints what it saw, one "key: value" a line.
//
//   java WssClient URL SOAPACTION REQUEST.xml KEYSTORE.p12 PASSWORD ALIAS
//        TRUSTSTORE.p12 PASSWORD [tamper | sha1]
// tamper: change the Body after signing; sha1: RSA-SHA1 and SHA-1 digests (SoapUI's defaults).
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.xml.crypto.dom.DOMStructure;
import javax.xml.crypto.dsig.CanonicalizationMethod;
import javax.xml.crypto.dsig.DigestMethod;
import javax.xml.crypto.dsig.Reference;
import javax.xml.crypto.dsig.SignedInfo;
import javax.xml.crypto.dsig.Transform;
import javax.xml.crypto.dsig.XMLSignature;
import javax.xml.crypto.dsig.XMLSignatureFactory;
import javax.xml.crypto.dsig.dom.DOMSignContext;
import javax.xml.crypto.dsig.dom.DOMValidateContext;
import javax.xml.crypto.dsig.keyinfo.KeyInfo;
import javax.xml.crypto.dsig.spec.ExcC14NParameterSpec;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

public class WssClient {
    static final String SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String XMLNS = "http://www.w3.org/2000/xmlns/";
    static final String DS = "http://www.w3.org/2000/09/xmldsig#";
    static final String WSSE =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    static final String WSU =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    static final String X509V3 =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
    static final String BASE64 = "http://docs.oasis-open.org/wss/2004/01/"
        + "oasis-200401-wss-soap-message-security-1.0#Base64Binary";
    static final String RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    static final String RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

    public static void main(String[] args) throws Exception {
        KeyStore keystore = load(args[3], args[4]);
        PrivateKey key = (PrivateKey) keystore.getKey(args[5], args[4].toCharArray());
        X509Certificate cert = (X509Certificate) keystore.getCertificate(args[5]);
        Document request = parse(new FileInputStream(args[2]));
        String option = args.length > 8 ? args[8] : "";
        sign(request, key, cert, option.equals("sha1"));
        if (option.equals("tamper")) {
            Element body = child(request.getDocumentElement(), SOAP, "Body");
            Node text = firstText(body);
            text.setNodeValue(text.getNodeValue() + " (changed after signing)");
        }
        HttpURLConnection http = (HttpURLConnection) new URL(args[0]).openConnection();
        http.setRequestMethod("POST");
        http.setDoOutput(true);
        http.setRequestProperty("Content-Type", "text/xml; charset=utf-8");
        http.setRequestProperty("SOAPAction", "\"" + args[1] + "\"");
        try (OutputStream out = http.getOutputStream()) {
            out.write(serialize(request));
        }
        int status = http.getResponseCode();
        InputStream in = status < 400 ? http.getInputStream() : http.getErrorStream();
        byte[] reply = in.readAllBytes();
        System.out.println("status: " + status);
        check(parse(new ByteArrayInputStream(reply)), load(args[6], args[7]));
    }

    static void sign(Document doc, PrivateKey key, X509Certificate cert, boolean sha1)
            throws Exception {
        Element envelope = doc.getDocumentElement();
        Element body = child(envelope, SOAP, "Body");
        Element header = child(envelope, SOAP, "Header");
        if (header == null) {
            header = doc.createElementNS(SOAP, envelope.getPrefix() + ":Header");
            envelope.insertBefore(header, body);
        }
        Element security = doc.createElementNS(WSSE, "wsse:Security");
        security.setAttributeNS(XMLNS, "xmlns:wsse", WSSE);
        security.setAttributeNS(XMLNS, "xmlns:wsu", WSU);
        security.setAttributeNS(SOAP, envelope.getPrefix() + ":mustUnderstand", "1");
        header.appendChild(security);

        Element token = doc.createElementNS(WSSE, "wsse:BinarySecurityToken");
        token.setAttribute("EncodingType", BASE64);
        token.setAttribute("ValueType", X509V3);
        setId(token, "X509-1");
        token.setTextContent(Base64.getEncoder().encodeToString(cert.getEncoded()));
        security.appendChild(token);

        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        Element timestamp = doc.createElementNS(WSU, "wsu:Timestamp");
        setId(timestamp, "TS-1");
        Element created = doc.createElementNS(WSU, "wsu:Created");
        created.setTextContent(now.toString());
        Element expires = doc.createElementNS(WSU, "wsu:Expires");
        expires.setTextContent(now.plusSeconds(300).toString());
        timestamp.appendChild(created);
        timestamp.appendChild(expires);
        security.appendChild(timestamp);

        // The Body's wsu:Id needs its namespace declared on the Body itself: the Body is not
        // below wsse:Security, and exclusive C14N of the Body must see the declaration.
        body.setAttributeNS(XMLNS, "xmlns:wsu", WSU);
        setId(body, "id-1");

        XMLSignatureFactory factory = XMLSignatureFactory.getInstance("DOM");
        DigestMethod digest = factory.newDigestMethod(
            sha1 ? DigestMethod.SHA1 : DigestMethod.SHA256, null);
        // WSS4J names the prefixes in scope as InclusiveNamespaces (its addInclusivePrefixes
        // default): the envelope's prefix for the Body and the Timestamp, wsse and the
        // envelope's for the SignedInfo.
        String soapPrefix = envelope.getPrefix();
        List<Transform> c14n = List.of(factory.newTransform(
            CanonicalizationMethod.EXCLUSIVE, new ExcC14NParameterSpec(List.of(soapPrefix))));
        SignedInfo signedInfo = factory.newSignedInfo(
            factory.newCanonicalizationMethod(CanonicalizationMethod.EXCLUSIVE,
                new ExcC14NParameterSpec(List.of("wsse", soapPrefix))),
            factory.newSignatureMethod(sha1 ? RSA_SHA1 : RSA_SHA256, null),
            List.of(factory.newReference("#id-1", digest, c14n, null, null),
                    factory.newReference("#TS-1", digest, c14n, null, null)));
        Element str = doc.createElementNS(WSSE, "wsse:SecurityTokenReference");
        Element ref = doc.createElementNS(WSSE, "wsse:Reference");
        ref.setAttribute("URI", "#X509-1");
        ref.setAttribute("ValueType", X509V3);
        str.appendChild(ref);
        KeyInfo keyInfo = factory.getKeyInfoFactory().newKeyInfo(
            List.of(new DOMStructure(str)));
        DOMSignContext context = new DOMSignContext(key, security);
        context.setDefaultNamespacePrefix("ds");
        factory.newXMLSignature(signedInfo, keyInfo).sign(context);
    }

    /** The reply: a Fault or not, its signature valid or not, its signer trusted or not. */
    static void check(Document reply, KeyStore trust) throws Exception {
        Element envelope = reply.getDocumentElement();
        Element body = child(envelope, SOAP, "Body");
        NodeList faults = body.getElementsByTagNameNS(SOAP, "Fault");
        System.out.println("fault: " + (faults.getLength() > 0));
        NodeList codes = body.getElementsByTagNameNS("*", "reasonCode");
        if (codes.getLength() > 0) {
            System.out.println("reasonCode: " + codes.item(0).getTextContent());
        }
        NodeList tickets = body.getElementsByTagNameNS("*", "ticketCBSS");
        if (tickets.getLength() > 0) {
            System.out.println("ticket: " + tickets.item(0).getTextContent());
        }
        NodeList xmlString = body.getElementsByTagNameNS("*", "xmlString");
        if (xmlString.getLength() > 0) {  // sendXML's escaped SSDNReply, on one line
            System.out.println("xmlString: " + Base64.getEncoder().encodeToString(
                xmlString.item(0).getTextContent().getBytes("UTF-8")));
        }
        NodeList echo = body.getElementsByTagNameNS("*", "echo");
        if (echo.getLength() > 0) {
            System.out.println("echo: " + echo.item(0).getTextContent());
        }
        NodeList signatures = envelope.getElementsByTagNameNS(DS, "Signature");
        if (signatures.getLength() == 0) {
            System.out.println("reply-signature: absent");
            return;
        }
        List<Element> withIds = new ArrayList<>();
        collectIds(envelope, withIds);
        for (Element e : withIds) {
            e.setIdAttributeNS(WSU, "Id", true);
        }
        NodeList tokens = envelope.getElementsByTagNameNS(WSSE, "BinarySecurityToken");
        X509Certificate signer = (X509Certificate) CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(
                Base64.getMimeDecoder().decode(tokens.item(0).getTextContent())));
        System.out.println("reply-signer: "
            + (trust.getCertificateAlias(signer) != null ? "trusted" : "untrusted"));
        XMLSignatureFactory factory = XMLSignatureFactory.getInstance("DOM");
        DOMValidateContext context =
            new DOMValidateContext(signer.getPublicKey(), signatures.item(0));
        XMLSignature signature = factory.unmarshalXMLSignature(context);
        boolean valid = signature.validate(context);
        boolean coversBody = false;
        String bodyId = body.getAttributeNS(WSU, "Id");
        for (Object r : signature.getSignedInfo().getReferences()) {
            coversBody |= ("#" + bodyId).equals(((Reference) r).getURI());
        }
        System.out.println("reply-signature: " + (valid ? "valid" : "invalid"));
        System.out.println("reply-signature-covers-body: " + coversBody);
    }

    static void collectIds(Element e, List<Element> out) {
        if (e.hasAttributeNS(WSU, "Id")) {
            out.add(e);
        }
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element) {
                collectIds((Element) n, out);
            }
        }
    }

    static void setId(Element e, String id) {
        e.setAttributeNS(WSU, "wsu:Id", id);
        e.setIdAttributeNS(WSU, "Id", true);
    }

    static Element child(Element parent, String ns, String local) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element && ns.equals(n.getNamespaceURI())
                    && local.equals(n.getLocalName())) {
                return (Element) n;
            }
        }
        return null;
    }

    static Node firstText(Node node) {
        for (Node n = node.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() == Node.TEXT_NODE && !n.getNodeValue().isBlank()) {
                return n;
            }
            Node found = firstText(n);
            if (found != null) {
                return found;
            }
        }
        return null;
    }

    static KeyStore load(String path, String password) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(path)) {
            store.load(in, password.toCharArray());
        }
        return store;
    }

    static Document parse(InputStream in) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return factory.newDocumentBuilder().parse(in);
    }

    static byte[] serialize(Document doc) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TransformerFactory.newInstance().newTransformer()
            .transform(new DOMSource(doc), new StreamResult(out));
        return out.toByteArray();
    }
}
