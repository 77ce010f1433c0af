"""kszws: an open implementation of the SOAP/XML middleware of Belgium's Crossroads Bank
for Social Security (KSZ/BCSS/CBSS).

The request path, one package per step:
wire (formats) -> security (WS-Security, authentication) -> hub (pipeline, log)
-> services (Spyne endpoints) -> site/server (Twisted).
"""
import sys

# spyne 2.14.0, the last release, does not import on Python 3.12 (it relies on modules
# removed there), and nothing older than 3.11 is tested. Fail here, with the reason,
# instead of deep inside an import.
if sys.version_info[:2] != (3, 11):
    raise RuntimeError(
        "kszws runs on Python 3.11 only (spyne 2.14 does not import on 3.12); "
        "this is Python %d.%d. Create the virtual environment with python3.11."
        % sys.version_info[:2]
    )

__version__ = "0.1.0"
