"""The tables, as SQLAlchemy Core metadata. Migrations (store/migrations/) create and
change them; a test checks that a migrated database matches this module."""
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index,
                        Integer, LargeBinary, MetaData, String, Table, Text, UniqueConstraint)

metadata = MetaData()

# The exchange log (one row per request reaching the hub), append-only and hash-chained:
# row_hash = sha256(prev_hash + canonical row). `seq` is given by the writer, without gaps.
exchange_log = Table(
    "exchange_log", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ticket", String(36), nullable=False, unique=True),
    Column("received_at", DateTime, nullable=False),  # UTC, naive
    Column("replied_at", DateTime, nullable=False),
    Column("caller", String(64)),  # institution id, NULL when unidentified
    Column("caller_user", String(64)),
    Column("auth_method", String(16), nullable=False),
    Column("service", String(64), nullable=False),
    Column("operation", String(64)),
    Column("version", String(16)),
    Column("legal_context", String(64)),
    Column("outcome", String(8), nullable=False),  # OK | REFUSED | ERROR
    Column("reason_code", String(16), nullable=False),
    Column("detail", String(256)),
    Column("request_size", Integer, nullable=False),
    Column("reply_size", Integer, nullable=False),
    Column("peer", String(64)),
    Column("signed_request", Boolean, nullable=False),
    Column("signed_reply", Boolean, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
)
Index("ix_exchange_log_received_at", exchange_log.c.received_at)
Index("ix_exchange_log_caller", exchange_log.c.caller)

# The SSINs and enterprise numbers an exchange concerns ("who consulted my data").
exchange_subject = Table(
    "exchange_subject", metadata,
    Column("seq", BigInteger, ForeignKey("exchange_log.seq"), primary_key=True),
    Column("kind", String(4), primary_key=True),  # ssin | cbe
    Column("value", String(11), primary_key=True),
)
Index("ix_exchange_subject_value", exchange_subject.c.value)

# The head of the hash chain, updated in the same transaction as the rows: a deleted tail
# no longer matches it.
log_head = Table(
    "log_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

# Signature values already accepted, shared by every worker, kept until their Timestamp
# window has passed.
replay_cache = Table(
    "replay_cache", metadata,
    Column("token", String(64), primary_key=True),
    Column("expires_at", DateTime, nullable=False),
)
Index("ix_replay_cache_expires_at", replay_cache.c.expires_at)


# The reference directory (seed §4.2): which institution manages a file on which person,
# in which capacity (quality code), for which period. Rows are never deleted: unregistering
# ends a registration (end_date) and records when (ended_at).
registration = Table(
    "directory_registration", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ssin", String(11), nullable=False),
    Column("sector", Integer, nullable=False),
    Column("subsector", Integer, nullable=False),
    Column("institution", String(64), nullable=False),
    Column("quality_code", Integer, nullable=False),
    Column("phase", Integer, nullable=False),
    Column("register", String(10), nullable=False),  # PRIMARY | SECONDARY
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),  # NULL: open
    Column("created_at", DateTime, nullable=False),
    Column("changed_at", DateTime, nullable=False),
    Column("ended_at", DateTime),  # set when an UNREGISTER ended it
)
Index("ix_directory_registration_ssin", registration.c.ssin, registration.c.sector)

# SSIN replacements the directory has followed (the National Register replaced old_ssin by
# new_ssin): registrations moved to new_ssin, and requests naming old_ssin still find them.
# Chains are kept flat: when new_ssin is replaced in turn, earlier rows point to the newest.
replacement = Table(
    "directory_replacement", metadata,
    Column("old_ssin", String(11), primary_key=True),
    Column("new_ssin", String(11), nullable=False),
    Column("replaced_at", DateTime, nullable=False),
)
Index("ix_directory_replacement_new_ssin", replacement.c.new_ssin)


# Events the hub must deliver to mailboxes (seed §4.4, §4.8): mutations reported by an
# authentic source, each once: (source, seq) is the source's own sequence number.
mutation = Table(
    "mutation", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(24), nullable=False),  # birth | death | address | name | ...
    Column("ssin", String(11), nullable=False),
    Column("event_date", Date, nullable=False),
    Column("payload", Text, nullable=False),  # JSON: what changed
    Column("received_at", DateTime, nullable=False),
    UniqueConstraint("source", "seq", name="uq_mutation_source_seq"),
)

# The transactional outbox of the fan-out: one row per accepted event not yet delivered to
# every mailbox. Written in the transaction that accepts the event (before the sender's
# acknowledgement), deleted in the one that writes its mailbox items: a crash in between
# leaves it here, and the fan-out does it again.
fanout_pending = Table(
    "fanout_pending", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(12), nullable=False),  # mutation | attestation
    Column("ref_id", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# One row per delivery: an event in an institution's mailbox. The same event is never
# delivered twice to one institution (the unique constraint); pulled items stay until
# acknowledged, then for the retention period.
mailbox_item = Table(
    "mailbox_item", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("institution", String(64), nullable=False),
    Column("kind", String(12), nullable=False),  # mutation | attestation | pension
    Column("ref_id", Integer, nullable=False),
    Column("type", String(24), nullable=False),  # the mutation kind or attestation type
    Column("ssin", String(11), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("acked_at", DateTime),
    UniqueConstraint("institution", "kind", "ref_id", name="uq_mailbox_item_event"),
)
Index("ix_mailbox_item_open", mailbox_item.c.institution, mailbox_item.c.acked_at,
      mailbox_item.c.id)


# Electronic attestations (seed §4.8, §4.9): the current version of each, with a stable id,
# and every version as an event (what the mailboxes deliver). Published by the authentic
# source of their type only; (publisher, reference) is the publisher's own key, so that a
# publication sent twice is refused, not duplicated.
attestation = Table(
    "attestation", metadata,
    Column("id", String(36), primary_key=True),  # the stable attestation id (UUID)
    Column("type", String(24), nullable=False),
    Column("ssin", String(11), nullable=False),
    Column("publisher", String(64), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("status", String(10), nullable=False),  # active | cancelled
    Column("version", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("decision_date", Date, nullable=False),
    Column("payload", Text, nullable=False),  # the payload element, XML
    Column("created_at", DateTime, nullable=False),
    Column("changed_at", DateTime, nullable=False),
    UniqueConstraint("publisher", "reference", name="uq_attestation_reference"),
)
Index("ix_attestation_ssin", attestation.c.ssin)

attestation_event = Table(
    "attestation_event", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("attestation", String(36), ForeignKey("attestation.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(8), nullable=False),  # create | update | cancel
    Column("created_at", DateTime, nullable=False),
)


# The pension cadastre's attestations to payers (seed §4.7), taken from the cadastre in its
# id order (source_id: each once) and put in the payer's mailbox in the same transaction.
pension_attestation = Table(
    "pension_attestation", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", BigInteger, nullable=False, unique=True),
    Column("month", String(7), nullable=False),
    Column("payer", String(64), nullable=False),
    Column("ssin", String(11), nullable=False),
    Column("version", Integer, nullable=False),
    Column("payload", Text, nullable=False),  # JSON, as the cadastre wrote it
    Column("received_at", DateTime, nullable=False),
)

# The EESSI access point (kszws/eessi/): one row per AS4 user message it accepted, kept
# whole as it arrived (the MIME package, its signature intact) so that it is delivered
# byte for byte. `in`: from abroad, waiting in a Belgian institution's pull channel (mpc)
# until that institution's receipt marks it delivered (decision E6); `out`: from a Belgian
# institution, pushed to the foreign access point until it answers with a valid receipt.
# An `error` row is a delivery failure told to a Belgian sender through its channel.
as4_message = Table(
    "as4_message", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("direction", String(4), nullable=False),  # in | out
    Column("kind", String(8), nullable=False),  # user | error
    Column("sender", String(64), nullable=False),  # EESSI ids (CC:ID)
    Column("receiver", String(64), nullable=False),
    Column("mpc", String(255)),  # in: the pull channel it waits in
    Column("buc", String(32)),
    Column("sed_type", String(16)),
    Column("case_id", String(128)),
    Column("content_type", String(512), nullable=False),
    Column("package", LargeBinary, nullable=False),
    Column("digests", Text, nullable=False),  # JSON {uri: digest} a receipt must match
    Column("receipt", LargeBinary),  # the receipt the access point answered (again to a duplicate)
    Column("state", String(12), nullable=False),  # waiting|pulled|delivered|pending|failed
    Column("received_at", DateTime, nullable=False),
    Column("pulled_at", DateTime),
    Column("delivered_at", DateTime),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime),
    Column("last_error", String(256)),
)
Index("ix_as4_message_channel", as4_message.c.mpc, as4_message.c.state, as4_message.c.id)
Index("ix_as4_message_case", as4_message.c.case_id)
Index("ix_as4_message_outbound", as4_message.c.state, as4_message.c.next_attempt_at)


# The batch channel (kszws/batch/): each file submitted through the drop box (one row per
# GO), the sequence numbers taken (unique per sender, date and environment), and the files
# the hub put in the institutions' OUT folders, with the time each was fetched.
batch_file = Table(
    "batch_file", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("institution", String(64), nullable=False),
    Column("name", String(64), nullable=False),  # the GO's name
    Column("type", String(4), nullable=False),
    Column("sender", String(6), nullable=False),
    Column("env", String(1), nullable=False),
    Column("parts", Integer, nullable=False),  # 0: one piece
    Column("state", String(12), nullable=False),  # rejected | accepted | running | done | cancelled
    Column("errors", String(256)),  # the ACRF's ErrorIDs, space separated
    Column("spool", String(255), nullable=False),  # where its files were moved from IN
    Column("received_at", DateTime, nullable=False),
    Column("acknowledged_at", DateTime),
    Column("records_total", Integer),
    Column("records_done", Integer, nullable=False),
    # while running: the worker processing it and until when its claim holds (a killed
    # worker's file is taken over once the lease has run out)
    Column("owner", String(32)),
    Column("lease_until", DateTime),
    # attempts in a row that failed unexpectedly (processing.MAX_ATTEMPTS: then answered)
    Column("attempts", Integer, nullable=False, server_default="0"),
)
Index("ix_batch_file_state", batch_file.c.state, batch_file.c.id)

batch_sequence = Table(
    "batch_sequence", metadata,
    Column("sender", String(6), primary_key=True),
    Column("file_date", String(8), primary_key=True),
    Column("seq", String(5), primary_key=True),
    Column("env", String(1), primary_key=True),
    Column("batch_file_id", Integer, nullable=False),
)

# The result of each record of a file being processed, by its place in the file: the
# result file is written from it, in the input's order, once every record is judged.
batch_result = Table(
    "batch_result", metadata,
    Column("batch_file_id", Integer, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("code", String(8), nullable=False),  # the 6-digit application code
    Column("body", LargeBinary),  # the Result's data (XML), if any
)

batch_outfile = Table(
    "batch_outfile", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("institution", String(64), nullable=False),
    Column("folder", String(8), nullable=False),  # OUT | OUTTEST
    Column("name", String(64), nullable=False),
    Column("batch_file_id", Integer),
    Column("created_at", DateTime, nullable=False),
    Column("fetched_at", DateTime),
    UniqueConstraint("institution", "folder", "name", name="uq_batch_outfile_name"),
)

# The daily FO.MUTA files (batch/muta.py): for each institution that receives its
# mutations by batch, one row per day, claimed by the worker that writes the file
# (owner, lease_until: another resumes it once the lease runs out) and done in the
# transaction that records the file and marks its mailbox items delivered.
batch_muta = Table(
    "batch_muta", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the file's SEQ5
    Column("institution", String(64), nullable=False),
    Column("day", Date, nullable=False),  # the hub's local day the file closes
    Column("cutoff", DateTime, nullable=False),  # UTC: items made before it are in
    Column("state", String(12), nullable=False),  # running | done
    Column("owner", String(32)),
    Column("lease_until", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("items", Integer),  # how many the file holds, once done
    Column("done_at", DateTime),
    UniqueConstraint("institution", "day", name="uq_batch_muta_day"),
)

# SOCTAR (the social energy tariff): the beneficiaries the social-security institutions
# declared for a quarter (2026Q3), one row per person, category and declaring institution;
# the ministry's customer lists are matched against them (kszws/batch/kinds/soctar.py).
# Nothing of it leaves the hub but a customer's flag and category.
soctar_beneficiary = Table(
    "soctar_beneficiary", metadata,
    Column("quarter", String(6), primary_key=True),
    Column("ssin", String(11), primary_key=True),
    Column("category", String(16), primary_key=True),
    Column("institution", String(64), primary_key=True),
    Column("batch_file_id", Integer, nullable=False),  # the list that declared it
)
