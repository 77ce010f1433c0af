"""The batch channel: files exchanged through an SFTP drop box, as institutions and
employers exchange them with the social-security network (../shared/batch/README.md).

The path of a file, one module each:
    config.py     conf/batch.toml: the drop box, the senders (numbers and SSH keys)
    names.py      the file-name grammar FI/FS/GO/TD -> FO, TYPE, SENDER6, date, SEQ5, env
    dropbox.py    the SFTP server (Twisted Conch): folders IN, OUT, OUTTEST per institution
    signature.py  the FS detached signature
    intake.py     on GO: the formal checks, the file recorded and logged, the ACRF
    acrf.py       the acknowledgement of receipt's body
    processing.py the records of an accepted file, judged in chunks, each chunk committed
                  with its log rows; the result file and the FO.NOTI
    kinds/        the batch types and their online twins' checks (IDPR, PENS, ...)
    outbox.py     the hub's answers in OUT/OUTTEST (FO + FS + GO), fetched or not
    muta.py       FO.MUTA: a day's mutations, for the institutions that take them by batch
"""
from kszws.batch.config import load


def make_keys(settings, registry):
    """The SSH keys the drop box needs and the demo PKI lacks: the hub's host key and a
    key per sender (at their default places). Returns the files written."""
    from kszws.security import pki

    config = load(settings, registry)
    if config is None:
        return []
    return pki.init_ssh_keys(settings.certs_dir, [registry.hub.id, *config.senders])
