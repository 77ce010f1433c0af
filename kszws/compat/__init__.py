"""Shims for third-party defects, quarantined here. Import `kszws.compat.spyne` before spyne."""
