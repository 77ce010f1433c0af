# The two set-up commands of the README:
#   make demo  - install everything, then start the demo network (SQLite)
#   make test  - install everything, then run the whole test suite
PYTHON ?= python3.11
VENV := .venv

.PHONY: demo test install install-test bench peer fuzz mutation clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "kszws needs Python 3.11 (spyne 2.14 does not import on 3.12); set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

install: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e .

install-test: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e '.[test]'

demo: install
	$(VENV)/bin/kszws demo

test: install-test
	$(VENV)/bin/python -m pytest

# Coverage-guided fuzzing of the admission path (tests/hostile/fuzz.py); CI runs 60 s.
FUZZ_SECONDS ?= 60
fuzz: install-test
	$(VENV)/bin/python -m tests.hostile.fuzz --seconds $(FUZZ_SECONDS)

# Mutation testing (mutmut) of security/, hub/access.py, hub/pipeline.py, directory/ and
# wire/xmlparse.py: every mutant (an hour or more on 2 cores); CI runs a sample.
# With PostgreSQL (the directory's bulk load has branches only PostgreSQL runs): set
# KSZWS_TEST_DATABASE_URL to another database to use it instead of the local default.
KSZWS_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
mutation: install-test
	KSZWS_TEST_DATABASE_URL=$(KSZWS_TEST_DATABASE_URL) $(VENV)/bin/python -m tests.mutation.run

# Every benchmark at full size, then the table of headline figures (each beside the peer
# measured in the same run, and the machine's own speed); BENCH_FLAGS=--readme writes the
# table into README.md, --smoke runs them at CI size, --only NAME,... a few.
BENCH_FLAGS ?=
bench: install-test
	$(VENV)/bin/python benchmarks/run_all.py $(BENCH_FLAGS)

# The Java peer of bench_testconnection.py --peer (WSS4J, from Debian's packages:
# apt-get install openjdk-17-jdk-headless libwss4j-java): build/java-peer/echo-peer.jar.
peer:
	benchmarks/peers/java/build.sh build/java-peer

clean:
	rm -rf $(VENV) var build *.egg-info mutants
