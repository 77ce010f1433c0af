"""Unit tests of security/authn.py, credentials.py and replay.py that kill their mutants (issue 22)."""
