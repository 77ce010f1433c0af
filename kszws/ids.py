"""The unique keys of the network (seed §4.3): SSIN for persons, enterprise number for
enterprises. Validation is python-stdnum's; this module only adapts it to the hub's use
(accepting the display forms real clients send, answering a canonical form)."""
from stdnum.be import bis as _bis
from stdnum.be import nn as _nn
from stdnum.be import ssn as _ssn
from stdnum.be import vat as _vat
from stdnum.exceptions import ValidationError


class InvalidIdentifier(ValueError):
    pass


def ssin(value):
    """Canonical 11-digit SSIN (National Register or bis number) or InvalidIdentifier.

    Accepts the display forms `YYMMDD SSS-CC`, `YYMMDD SSS=CC`, `68.06.01-053.09`."""
    try:
        number = str(value)
        if not (len(number) == 11 and number.isdigit()):  # the display forms
            number = _nn.compact(number.replace("=", ""))
        # stdnum's ssn.validate tries the bis rules, then the National Register ones; the
        # month digits say which applies (bis: month + 20 or + 40), at half the cost.
        month = number[2:4]
        bis = month.isdigit() and (20 <= int(month) <= 32 or 40 <= int(month) <= 52)
        return (_bis if bis else _nn).validate(number)
    except ValidationError as exc:
        raise InvalidIdentifier("invalid SSIN %r: %s" % (value, exc)) from None


def ssin_kind(value):
    """'nn' for a National Register number, 'bis' for a bis number."""
    return _ssn.guess_type(ssin(value))


def is_ssin(value):
    try:
        ssin(value)
    except InvalidIdentifier:
        return False
    return True


def enterprise_number(value):
    """Canonical 10-digit enterprise (CBE/KBO) number or InvalidIdentifier."""
    try:
        number = _vat.validate(str(value))
    except ValidationError as exc:
        raise InvalidIdentifier("invalid enterprise number %r: %s" % (value, exc)) from None
    return number


def is_enterprise_number(value):
    try:
        enterprise_number(value)
    except InvalidIdentifier:
        return False
    return True


def nsso_number(value):
    """Canonical 10-digit NSSO (RSZ/ONSS) registration number or InvalidIdentifier.

    python-stdnum has no module for it. kszws takes the structure of the enterprise number:
    eight digits then two check digits, 97 - (the eight mod 97); an assumption of kszws's,
    in this one place, until the authentic rule is known."""
    digits = "".join(c for c in str(value) if c not in " .-/")
    if len(digits) != 10 or not digits.isdigit() or int(digits[:8]) == 0:
        raise InvalidIdentifier("invalid NSSO number %r: 10 digits expected" % value)
    if int(digits[8:]) != 97 - int(digits[:8]) % 97:
        raise InvalidIdentifier("invalid NSSO number %r: check digits" % value)
    return digits


def make_nsso_number(serial):
    """The NSSO number with the eight digits `serial` (synthetic data)."""
    return "%08d%02d" % (serial, 97 - serial % 97)
