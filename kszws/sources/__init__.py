"""Reference authentic sources (National Register, employer directory, pension cadastre,
attestation sources): each its own Spyne SOAP service and store, reached by the hub only
over SOAP with zeep. `SOURCES` maps the name given to `kszws source NAME` to its runner
(imported when run: a source brings spyne's Twisted transport with it)."""

SOURCES = {
    "national-register": "kszws.sources.national_register:run",
    "employer-directory": "kszws.sources.employer_directory:run",
    "pension-cadastre": "kszws.sources.pension_cadastre:run",
}


def runner(name):
    import importlib

    module, _, function = SOURCES[name].partition(":")
    return getattr(importlib.import_module(module), function)
