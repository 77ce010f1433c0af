"""The hub pipeline: identify the caller, ticket, validate, authorize, route, log, reply."""
