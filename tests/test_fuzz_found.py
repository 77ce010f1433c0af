"""What the fuzzer's target checks (tests/hostile/fuzz.py), run over every input of the
hostile corpus and every input the fuzzer ever found (tests/hostile/found/): none may crash
the admission path or be refused without a SOAP Fault that carries its code."""
from pathlib import Path

import pytest

pytest.importorskip("atheris")

from tests.hostile import corpus, fuzz  # noqa: E402 (after the skip)
from tests.netfixture import make_project  # noqa: E402


@pytest.fixture(scope="module")
def admission(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("fuzz"))
    return fuzz.Admission(settings), settings


def test_every_corpus_and_found_input_passes_the_fuzz_target(admission, tmp_path):
    target, settings = admission
    cases = corpus.write(tmp_path, corpus.Signer(settings.conf_dir.parent))
    inputs = [tmp_path / case["file"] for case in cases]
    inputs += [p for p in fuzz.FOUND.glob("*") if p.name != "README.md"]
    for path in inputs:
        target.run(path.read_bytes())
    assert len(inputs) >= 300


def test_the_target_reports_a_refusal_without_its_fault(admission, monkeypatch):
    """The check behind "non-Fault answer fails": a fault that lost its code is caught."""
    target, _ = admission
    original = target.hub._fault

    def no_code(endpoint, exchange, refusal):
        reply = original(endpoint, exchange, refusal)
        return type(reply)(reply.status, reply.body.replace(refusal.code.encode(), b"X"),
                           reply.ticket)

    monkeypatch.setattr(target.hub, "_fault", no_code)
    with pytest.raises(AssertionError):
        target.run(b"<not-soap/>")
