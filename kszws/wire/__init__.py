"""The wire formats, as pure lxml functions: no I/O, no clocks of their own.

Like zeep's `wsdl/` and `xsd/`: one module per format concern.
"""
