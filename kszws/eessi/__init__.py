"""The EESSI access point: kszws as Belgium's AS4 forwarding point for foreign institutions.

The request path, one module each:
    mime.py        multipart/related: the SOAP 1.2 part first, each payload a MIME part
    ebms.py        the ebMS 3.0 header (eb:Messaging): read a UserMessage or a signal,
                   build receipts, errors, pulls and user messages
    errors.py      the EBMS:0xxx error table and the exception that carries one
    signature.py   the AS4 WS-Security signature (eb:Messaging, Body, every attachment)
    repository.py  the Institution Repository (conf/eessi/repository.toml)
    bucs.py        the BUC catalogue and the SBDH rules checked before forwarding
"""
