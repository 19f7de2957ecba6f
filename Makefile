# Two commands on a fresh machine (see README): `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= test,server,postgresql,llm,ray

.PHONY: setup demo test test-postgresql pg-run lint bench clean-venv chromium postgresql soundfont

$(BIN)/promptloop: pyproject.toml setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $(BIN)/promptloop

setup: $(BIN)/promptloop soundfont $(VENV)/.warm-up

# setup ends with `promptloop warm-up` once per install (the stamp is remade with the venv): the
# evaluator's caption vectors and a 2 x 2 s session into a temporary folder, so that the first session
# on a machine does not pay numba compiles and a MiniLM load.  The caches live in the user's cache folder.
$(VENV)/.warm-up: $(BIN)/promptloop
	@$(BIN)/promptloop warm-up 2>/dev/null \
		|| echo "note: promptloop warm-up failed; the first session will compile and cache on its own (slower)"
	@touch $@

# The embedded default plays Debian's General MIDI SoundFont through libfluidsynth; without them (or
# root to install them) it falls back to the procedural synth, and `promptloop doctor` says so.
soundfont:
	@{ [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] && $(PY) -c "import ctypes.util as u, sys; sys.exit(u.find_library('fluidsynth') is None)"; } \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && apt-get install -y -qq fluid-soundfont-gm libfluidsynth3) >/dev/null 2>&1; } \
		|| echo "note: fluid-soundfont-gm / libfluidsynth3 not installed (needs root); the embedded default stays the procedural synth (see promptloop doctor)"

demo: setup
	$(BIN)/promptloop session --start anxious --target calm --prefer "piano, soft pads, rain" \
		--avoid drums --segments 6 --segment-seconds 10 --seed 7 --out out/demo --overwrite

# The whole suite on SQLite, then tests/server and tests/reliability again on a real PostgreSQL server.
test: setup chromium lint postgresql
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory pg-run

# The server and reliability suites again on a real PostgreSQL server: tests/dbs.py makes a throwaway
# cluster on a loopback port with Debian's postgresql (as root it runs as the postgres user) and
# removes it afterwards.  Without PostgreSQL (not root, no apt-get) the run is skipped and says so.
PG_INITDB = $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) $(shell command -v initdb 2>/dev/null))
test-postgresql: setup postgresql
	@$(MAKE) --no-print-directory pg-run

# A sub-make, so that PG_INITDB is looked up after the `postgresql` target may have installed it.
pg-run:
	@if [ -n "$(PG_INITDB)" ]; then echo "== tests/server and tests/reliability on PostgreSQL ($(PG_INITDB))"; \
		PROMPTLOOP_TEST_DB=postgresql $(BIN)/python -m pytest tests/server tests/reliability; \
	else echo "note: PostgreSQL is not installed (needs root and apt-get, or initdb on PATH); the PostgreSQL run of tests/server and tests/reliability was SKIPPED"; fi

# The package is clean under ruff and mypy (configured in pyproject.toml); a finding fails the tests.
lint: setup
	$(BIN)/ruff check promptloop server tests eval
	$(BIN)/mypy

# The chat page's browser test drives Debian's chromium (no browser download); without it, or
# without root to install it, that one test is skipped and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1; } \
		|| echo "note: chromium not installed; tests/server/test_browser.py will be skipped"

postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1; } \
		|| echo "note: PostgreSQL not installed (needs root and apt-get); its test run will be skipped"

bench: setup
	$(BIN)/python eval/bench_embedded.py

clean-venv:
	rm -rf $(VENV)
