"""Reference authentic sources (National Register, employer directory, pension cadastre,
attestation sources): each its own Spyne SOAP service and store, reached by the hub only
over SOAP with zeep. `SOURCES` maps the name given to `kszws source NAME` to its runner;
sources are added by the issues that build them."""

SOURCES = {}
