"""The hub's services: thin Spyne applications mapping the wire onto the hub pipeline.

`ENDPOINTS` maps a service name of conf/services.toml to the factory of its endpoint.
"""
from kszws.services import testconnection

ENDPOINTS = {
    "TestConnectionService": testconnection.endpoint,
}


def build_endpoints(registry, clock, services_file="services.toml"):
    """One endpoint per service of the registry; a service without code is a config error."""
    from kszws.config import ConfigError

    endpoints = {}
    for service in registry.services.values():
        factory = ENDPOINTS.get(service.implementation)
        if factory is None:
            raise ConfigError(services_file, service.name, "no implementation %r in kszws "
                              "(known: %s)" % (service.implementation, ", ".join(sorted(ENDPOINTS))))
        endpoints[service.name] = factory(service, clock)
    return endpoints
