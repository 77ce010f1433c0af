"""The README's command table follows the parser: every command and sub-command of `kszws`,
each of its options and each choice of its positional arguments appears in a row of the
table that names the command (issue 14: the table had fallen behind the code)."""
import argparse
import re
from pathlib import Path

import pytest

from kszws.cli import _parser

README = Path(__file__).resolve().parent.parent / "README.md"


def commands(parser, path=()):
    """(command path, its --options, the choices of its positional arguments)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, path + (name,))
    if path and not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
        options = [o for a in parser._actions for o in a.option_strings
                   if o.startswith("--") and o != "--help"]
        choices = [c for a in parser._actions if not a.option_strings and a.choices
                   for c in a.choices]
        yield " ".join(path), options, choices


def table_rows():
    """The first cell of each row of the command table."""
    return [line.split(" | ")[0] for line in README.read_text().splitlines()
            if line.startswith("| `kszws ")]


@pytest.mark.parametrize("command, options, choices", list(commands(_parser())),
                         ids=lambda value: value if isinstance(value, str) else None)
def test_the_readme_table_documents_every_command_option_and_choice(command, options,
                                                                   choices):
    rows = [row for row in table_rows() if "`kszws %s" % command in row]
    assert rows, "no row of the README's command table for `kszws %s`" % command
    text = " ".join(rows)
    missing = [o for o in options if o not in text]
    missing += [c for c in choices if not re.search(r"\b%s\b" % re.escape(c), text)]
    assert not missing, "`kszws %s`: the README's table lacks %s" % (command, missing)


def test_the_global_options_are_documented():
    text = README.read_text()
    for option in [o for a in _parser()._actions for o in a.option_strings
                   if o.startswith("--") and o != "--help"]:
        assert "`%s" % option in text, option
