import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;

import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.x500.X500Principal;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSDataRef;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.WSSecurityException;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.ws.security.message.token.Timestamp;
import org.apache.ws.security.str.STRParser;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * The Java peer of kszws's benchmark: TestConnectionService.sendTestMessage answered the way
 * a Java CBSS endpoint would, with the JDK's HTTP server and Apache WSS4J (Debian's 1.6.19).
 *
 * <p>It verifies a WS-Security 1.1 signed request (BinarySecurityToken, Timestamp, RSA-SHA256,
 * exclusive C14N, the Body and the Timestamp signed, the signer in the truststore) and signs
 * its reply the same way; anything else is answered with a SOAP Fault and HTTP 500. It keeps
 * no replay cache and no log: it is the cost of the WS-Security work and of the HTTP server,
 * which the hub has to match while doing more.
 *
 * <p>Usage: java -jar echo-peer.jar PORT KEYSTORE.p12 PASSWORD ALIAS TRUSTSTORE.p12 PASSWORD
 * (PORT 0: a free port). Prints "ready PORT" once listening.
 */
public final class EchoPeer {
    static final String SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String XMLNS = "http://www.w3.org/2000/xmlns/";
    static final String INTF = "http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1";
    static final String RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    static final int THREADS = 2;
    // As near the hub's policy (windows up to 15 minutes, 5 minutes of clock skew) as WSS4J
    // goes: it refuses a Created older than the TTL or further ahead than the future TTL,
    // and an Expires in the past.
    static final int TIMESTAMP_TTL_SECONDS = 900;
    static final int FUTURE_SKEW_SECONDS = 300;
    static final int REPLY_TTL_SECONDS = 300;
    static final Map<String, String> OID_NAMES = Map.of("2.5.4.5", "SERIALNUMBER");
    static final DateTimeFormatter XSD_MILLIS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    /** A refusal: its text goes into the Fault's faultstring. */
    static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    /**
     * Merlin (WSS4J's keystore-backed Crypto) with the private key unwrapped once: Merlin asks
     * the KeyStore for it on every signature, and a PKCS#12 KeyStore decrypts it each time
     * (PBKDF2 then AES), which would cost more than the signature itself.
     */
    static final class UnwrappedKeyCrypto extends Merlin {
        private final String alias;
        private final PrivateKey key;

        UnwrappedKeyCrypto(KeyStore keystore, String alias, char[] password) throws Exception {
            setKeyStore(keystore);
            this.alias = alias;
            this.key = (PrivateKey) keystore.getKey(alias, password);
            if (key == null) {
                throw new IllegalArgumentException("no private key under alias " + alias);
            }
        }

        @Override
        public PrivateKey getPrivateKey(String identifier, String password)
                throws WSSecurityException {
            if (!alias.equals(identifier)) {
                throw new WSSecurityException(WSSecurityException.FAILURE, "noPrivateKey",
                        new Object[] {identifier});
            }
            return key;
        }

        @Override
        public PrivateKey getPrivateKey(X509Certificate certificate, CallbackHandler handler)
                throws WSSecurityException {
            return getPrivateKey(getX509Identifier(certificate), null);
        }
    }

    private final WSSConfig config;
    private final UnwrappedKeyCrypto signer;
    private final Merlin trusted;
    private final String alias;
    private final String password;
    // Neither a DocumentBuilder nor a Transformer may be shared between threads.
    private final ThreadLocal<DocumentBuilder> parsers;
    private final ThreadLocal<Transformer> writers;

    EchoPeer(UnwrappedKeyCrypto signer, String alias, String password, KeyStore truststore) {
        this.signer = signer;
        // Verification has a Crypto of its own, holding the truststore only: WSS4J trusts a
        // signer whose certificate its Crypto holds, and the signing Crypto holds the peer's
        // own. No CA in the truststore, so a certificate from the same CA is refused.
        trusted = new Merlin();
        trusted.setTrustStore(truststore);
        this.alias = alias;
        this.password = password;
        config = WSSConfig.getNewInstance();
        config.setTimeStampTTL(TIMESTAMP_TTL_SECONDS);
        config.setTimeStampFutureTTL(FUTURE_SKEW_SECONDS);
        parsers = ThreadLocal.withInitial(EchoPeer::newParser);
        writers = ThreadLocal.withInitial(EchoPeer::newWriter);
    }

    static DocumentBuilder newParser() {
        try {
            DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
            factory.setNamespaceAware(true);
            // A SOAP message has no DTD; refusing one shuts out entity expansion attacks.
            factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            return factory.newDocumentBuilder();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static Transformer newWriter() {
        try {
            Transformer transformer = TransformerFactory.newInstance().newTransformer();
            transformer.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
            return transformer;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The reply to one POSTed request: HTTP 200 and the signed response, or 500 and a Fault. */
    void handle(HttpExchange exchange) throws IOException {
        byte[] reply;
        int status = 200;
        try (InputStream in = exchange.getRequestBody()) {
            byte[] request = in.readAllBytes();
            try {
                reply = answer(request);
            } catch (Refused | WSSecurityException e) {
                status = 500;
                reply = fault(e.getMessage());
            } catch (Exception e) {  // a body that does not parse, say
                status = 500;
                reply = fault("malformed request: " + e);
            }
        }
        exchange.getResponseHeaders().set("Content-Type", "text/xml; charset=utf-8");
        exchange.sendResponseHeaders(status, reply.length);
        exchange.getResponseBody().write(reply);
        exchange.close();
    }

    byte[] answer(byte[] request) throws Exception {
        Instant received = Instant.now();
        Document doc = parsers.get().parse(new ByteArrayInputStream(request));
        Element body = soapChild(doc.getDocumentElement(), "Body");
        X509Certificate signer = verify(doc, body);
        Element payload = firstElement(body);
        if (payload == null || !INTF.equals(payload.getNamespaceURI())
                || !"sendTestMessageRequest".equals(payload.getLocalName())) {
            throw new Refused("the Body holds no sendTestMessageRequest");
        }
        Element echo = firstElement(payload);
        if (echo == null || echo.getNamespaceURI() != null || !"echo".equals(echo.getLocalName())) {
            throw new Refused("sendTestMessageRequest has no echo");
        }
        // The signer's subject in RFC 4514 (as the hub writes it; Java writes an unnamed
        // attribute in hex, so serialNumber is given its name).
        String subject = signer.getSubjectX500Principal().getName(X500Principal.RFC2253, OID_NAMES);
        Document reply = response(received, echo.getTextContent(), subject);
        sign(reply);
        return serialize(reply);
    }

    /**
     * WSS4J processes the Security header (signature value, digests, certificate validity and
     * trust, the Timestamp's freshness); then the policy WSS4J leaves to its caller: one
     * signature, RSA-SHA256 over exclusive C14N, by a BinarySecurityToken, covering exactly
     * the Body and the Timestamp. Returns the signer's certificate.
     */
    X509Certificate verify(Document doc, Element body) throws Exception {
        WSSecurityEngine engine = new WSSecurityEngine();
        engine.setWssConfig(config);
        List<WSSecurityEngineResult> results = engine.processSecurityHeader(doc, null, null, trusted);
        if (results == null) {
            throw new Refused("no wsse:Security header");
        }
        WSSecurityEngineResult signature = null;
        Element timestamp = null;
        int tokens = 0;
        for (WSSecurityEngineResult result : results) {
            int action = (Integer) result.get(WSSecurityEngineResult.TAG_ACTION);
            if (action == WSConstants.SIGN && signature == null) {
                signature = result;
            } else if (action == WSConstants.TS && timestamp == null) {
                timestamp = ((Timestamp) result.get(WSSecurityEngineResult.TAG_TIMESTAMP)).getElement();
            } else if (action == WSConstants.BST && tokens++ == 0) {
                continue;  // the signer's certificate: checked below as the signature's key
            } else {
                throw new Refused("the Security header must hold one BinarySecurityToken, one "
                        + "Timestamp and one Signature");
            }
        }
        if (signature == null || timestamp == null) {
            throw new Refused("a Signature and a Timestamp are required");
        }
        if (!RSA_SHA256.equals(signature.get(WSSecurityEngineResult.TAG_SIGNATURE_METHOD))
                || !WSConstants.C14N_EXCL_OMIT_COMMENTS.equals(
                        signature.get(WSSecurityEngineResult.TAG_CANONICALIZATION_METHOD))) {
            throw new Refused("RSA-SHA256 over exclusive C14N is required");
        }
        if (signature.get(WSSecurityEngineResult.TAG_X509_REFERENCE_TYPE)
                != STRParser.REFERENCE_TYPE.DIRECT_REF) {
            throw new Refused("the signing key must be a BinarySecurityToken");
        }
        @SuppressWarnings("unchecked")
        List<WSDataRef> refs = (List<WSDataRef>) signature.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
        Set<Node> covered = new HashSet<>();
        for (WSDataRef ref : refs) {
            covered.add(ref.getProtectedElement());
        }
        if (refs.size() != 2 || !covered.equals(Set.of(body, timestamp))) {
            throw new Refused("the signature must cover exactly the Body and the Timestamp");
        }
        return (X509Certificate) signature.get(WSSecurityEngineResult.TAG_X509_CERTIFICATE);
    }

    /** sendTestMessageResponse(informationCBSS, echo, sslCertificate), as the hub writes it. */
    Document response(Instant received, String echo, String subject) {
        Document doc = parsers.get().newDocument();
        Element envelope = doc.createElementNS(SOAP11, "soapenv:Envelope");
        // The namespace declarations as attributes: XML-DSig canonicalises the DOM as it is,
        // and without them the digests would miss what the serialiser writes.
        envelope.setAttributeNS(XMLNS, "xmlns:soapenv", SOAP11);
        doc.appendChild(envelope);
        envelope.appendChild(doc.createElementNS(SOAP11, "soapenv:Header"));
        Element body = doc.createElementNS(SOAP11, "soapenv:Body");
        envelope.appendChild(body);
        Element response = doc.createElementNS(INTF, "tns:sendTestMessageResponse");
        response.setAttributeNS(XMLNS, "xmlns:tns", INTF);
        body.appendChild(response);
        Element info = child(response, "informationCBSS", null);
        child(info, "ticketCBSS", UUID.randomUUID().toString());
        child(info, "timestampReceive", XSD_MILLIS.format(received));
        child(info, "timestampReply", XSD_MILLIS.format(Instant.now()));
        child(response, "echo", echo);
        child(response, "sslCertificate", subject);
        return doc;
    }

    /** A Security header with a Timestamp and a BinarySecurityToken; Body and Timestamp signed. */
    void sign(Document doc) throws WSSecurityException {
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(false);
        header.insertSecurityHeader(doc);
        WSSecTimestamp timestamp = new WSSecTimestamp(config);
        timestamp.setTimeToLive(REPLY_TTL_SECONDS);
        timestamp.build(doc, header);
        WSSecSignature signature = new WSSecSignature(config);
        signature.setUserInfo(alias, password);
        signature.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        signature.setSignatureAlgorithm(RSA_SHA256);
        signature.setSigCanonicalization(WSConstants.C14N_EXCL_OMIT_COMMENTS);
        signature.setDigestAlgo(WSConstants.SHA256);
        List<WSEncryptionPart> parts = new ArrayList<>();
        parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, SOAP11, ""));
        parts.add(new WSEncryptionPart(WSConstants.TIMESTAMP_TOKEN_LN, WSConstants.WSU_NS, ""));
        signature.setParts(parts);
        signature.build(doc, signer, header);
    }

    byte[] serialize(Document doc) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        writers.get().transform(new DOMSource(doc), new StreamResult(out));
        return out.toByteArray();
    }

    static byte[] fault(String message) {
        String text = String.valueOf(message).replace("&", "&amp;").replace("<", "&lt;");
        return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                + "<soapenv:Envelope xmlns:soapenv=\"" + SOAP11 + "\"><soapenv:Body><soapenv:Fault>"
                + "<faultcode>soapenv:Client</faultcode><faultstring>" + text + "</faultstring>"
                + "</soapenv:Fault></soapenv:Body></soapenv:Envelope>").getBytes(StandardCharsets.UTF_8);
    }

    static Element soapChild(Element envelope, String local) throws Refused {
        if (!SOAP11.equals(envelope.getNamespaceURI()) || !"Envelope".equals(envelope.getLocalName())) {
            throw new Refused("not a SOAP 1.1 Envelope");
        }
        for (Node n = envelope.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element && SOAP11.equals(n.getNamespaceURI())
                    && local.equals(n.getLocalName())) {
                return (Element) n;
            }
        }
        throw new Refused("no soapenv:" + local);
    }

    static Element firstElement(Element parent) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element) {
                return (Element) n;
            }
        }
        return null;
    }

    static Element child(Element parent, String name, String text) {
        Element elt = parent.getOwnerDocument().createElementNS(null, name);
        if (text != null) {
            elt.setTextContent(text);
        }
        parent.appendChild(elt);
        return elt;
    }

    static KeyStore load(String path, String password) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(path)) {
            store.load(in, password.toCharArray());
        }
        return store;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: EchoPeer PORT KEYSTORE.p12 PASSWORD ALIAS TRUSTSTORE.p12 PASSWORD");
            System.exit(2);
        }
        // HttpServer has no API for TCP_NODELAY: its ServerConfig reads this property when the
        // first server is made, and then sets it on every accepted socket (strace shows
        // setsockopt TCP_NODELAY). Without it, the headers and the body, written apart, can
        // wait for the client's delayed ACK (~40 ms on Linux).
        System.setProperty("sun.net.httpserver.nodelay", "true");
        KeyStore truststore = load(args[4], args[5]);
        UnwrappedKeyCrypto signer = new UnwrappedKeyCrypto(load(args[1], args[2]), args[3],
                args[2].toCharArray());
        EchoPeer peer = new EchoPeer(signer, args[3], args[2], truststore);

        InetSocketAddress address = new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0]));
        HttpServer server = HttpServer.create(address, 256);
        server.createContext("/", peer::handle);
        server.setExecutor(Executors.newFixedThreadPool(THREADS));
        server.start();
        List<String> gcs = new ArrayList<>();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gcs.add(gc.getName());
        }
        System.out.println("ready " + server.getAddress().getPort() + " (" + THREADS + " threads, "
                + truststore.size() + " trusted certificates, Java " + Runtime.version() + ", "
                + String.join(" + ", gcs) + ")");
        System.out.flush();
    }
}
