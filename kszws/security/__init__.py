"""Security: WS-Security sign/verify policy (xmlsec), the replay cache, the demo PKI,
credentials and caller authentication, and the client-side zeep plugin."""
