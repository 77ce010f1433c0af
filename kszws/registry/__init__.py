"""Who is who: institutions, sectors, services and routes, from conf/."""
from kszws.registry.loader import load_registry
from kszws.registry.model import AUTH_MODES, Institution, Registry, Sector, Service, Source

__all__ = ["AUTH_MODES", "Institution", "Registry", "Sector", "Service", "Source",
           "load_registry"]
