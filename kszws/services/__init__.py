"""The hub's services: thin Spyne applications mapping the wire onto the hub pipeline.

`ENDPOINTS` maps the implementation name of a conf/services.toml entry to the factory
of its endpoint, `factory(service, context)`.
"""
from dataclasses import dataclass

from kszws.services import (attestations, classic, dimona, directory, employers, mailbox,
                            pensions, retrieve_ti, testconnection)

ENDPOINTS = {
    "TestConnectionService": testconnection.endpoint,
    "KSZBCSSWebServiceConnector": classic.endpoint,
    "RetrieveTIGroupsService": retrieve_ti.endpoint,
    "ReferenceDirectoryService": directory.directory_endpoint,
    "AccessLogService": directory.access_log_endpoint,
    "AuthorizationService": directory.authorization_endpoint,
    "MutationService": mailbox.mutation_endpoint,
    "MailboxService": mailbox.mailbox_endpoint,
    "AttestationService": attestations.endpoint,
    "EmployerDirectoryService": employers.directory_endpoint,
    "PublicEmployerService": employers.public_endpoint,
    "DimonaService": dimona.dimona_endpoint,
    "EmploymentService": dimona.employment_endpoint,
    "PensionCadastreService": pensions.endpoint,
}


@dataclass
class EndpointContext:
    """What endpoint factories may use."""
    registry: object
    clock: object
    sources: dict  # source id -> hub.routing.SourceClient
    project_root: object  # Path of the folder holding conf/, wsdl/, xsd/
    db: object = None  # the hub's store.Database (reference directory)
    access: object = None  # hub.access.AccessControl (the integration check)
    fanout: object = None  # hub.fanout.FanOutLoop (mailbox deliveries)


def build_endpoints(context, services_file="services.toml"):
    """One endpoint per service of the registry; a service without code is a config error."""
    from kszws.config import ConfigError

    endpoints = {}
    for service in context.registry.services.values():
        factory = ENDPOINTS.get(service.implementation)
        if factory is None:
            raise ConfigError(services_file, service.name, "no implementation %r in kszws "
                              "(known: %s)" % (service.implementation, ", ".join(sorted(ENDPOINTS))))
        if service.route != "hub" and service.route not in context.sources:
            raise ConfigError(services_file, service.name, "routes to %r, which is not a "
                              "source of sources.toml" % service.route)
        endpoints[service.name] = factory(service, context)
    return endpoints
