"""The file-name grammar of the social-security batch channel (../shared/batch/README.md):

    {P1}.{TYPE}.{SENDER6}.{YYYYMMDD}.{SEQ5}.{ENV}[.{NPARTS}.{PART}]

P1 says what the file is: FI a file sent, FS its detached signature, GO the empty file
that starts processing, TD the empty file that cancels it, FO a file received (CO
compressed). TYPE names the exchange (IDPR, REGI, DIMN, PENS, SCTR... ACRF and NOTI for
the hub's acknowledgements and notifications). SENDER6 is the sender number, SEQ5 unique
per sender, date and environment (digits, or letters once the digits run out), ENV R
production, T circuit test, S declaration test. A file in parts adds the count of parts
and its own number; its FS names the part it signs, its GO the whole (no part suffix)."""
import datetime
import re
from dataclasses import dataclass, replace

PREFIXES = ("FI", "FS", "GO", "TD", "FO", "CO")
ENVIRONMENTS = {"R": "production", "T": "circuit test", "S": "declaration test"}
HUB_SENDER = "999999"  # the hub's own sender number on what it sends (Smals' own)
MAX_PARTS = 999

_NAME = re.compile(r"^(?P<prefix>[A-Z]{2})\.(?P<type>[A-Z0-9]{4})\.(?P<sender>[0-9]{6})\."
                   r"(?P<date>[0-9]{8})\.(?P<seq>[0-9A-Z]{5})\.(?P<env>[A-Z])"
                   r"(?:\.(?P<parts>[0-9]{1,3})\.(?P<part>[0-9]{1,3}))?$")


class BadName(ValueError):
    """A file name outside the grammar; the message says which part is wrong."""


@dataclass(frozen=True)
class FileName:
    prefix: str
    type: str
    sender: str
    date: datetime.date
    seq: str
    env: str
    parts: int = 0  # 0: a file in one piece
    part: int = 0

    def __str__(self):
        name = "%s.%s.%s.%s.%s.%s" % (self.prefix, self.type, self.sender,
                                       self.date.strftime("%Y%m%d"), self.seq, self.env)
        return name + (".%d.%d" % (self.parts, self.part) if self.parts else "")

    def as_(self, prefix, **changes):
        """The same name with another prefix (the FS or GO of an FI...)."""
        return replace(self, prefix=prefix, **changes)

    @property
    def whole(self):
        """The name without its part suffix: what a GO or TD names for a file in parts."""
        return replace(self, parts=0, part=0)

    @property
    def key(self):
        """What must be unique: sender, date, sequence and environment (type aside)."""
        return (self.sender, self.date, self.seq, self.env)


def parse(name):
    """The FileName of `name`, or BadName saying what does not fit."""
    if not isinstance(name, str) or len(name) > 64:
        raise BadName("not a batch file name")
    match = _NAME.fullmatch(name)  # (`$` would let a trailing newline through)
    if match is None:
        raise BadName("%r does not follow P1.TYPE.SENDER6.YYYYMMDD.SEQ5.ENV[.NPARTS.PART]"
                      % name[:64])
    fields = match.groupdict()
    if fields["prefix"] not in PREFIXES:
        raise BadName("prefix %s is none of %s" % (fields["prefix"], ", ".join(PREFIXES)))
    if fields["env"] not in ENVIRONMENTS:
        raise BadName("environment %s is none of R, T, S" % fields["env"])
    try:
        day = datetime.datetime.strptime(fields["date"], "%Y%m%d").date()
    except ValueError:
        raise BadName("%s is not a date" % fields["date"]) from None
    parts = int(fields["parts"] or 0)
    part = int(fields["part"] or 0)
    if fields["parts"] is not None and not 1 <= part <= parts <= MAX_PARTS:
        raise BadName("part %d of %d" % (part, parts))
    return FileName(fields["prefix"], fields["type"], fields["sender"], day, fields["seq"],
                    fields["env"], parts, part)
