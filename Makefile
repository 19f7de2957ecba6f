# Two commands on a fresh machine (see README): `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= test,server,llm,ray

.PHONY: setup demo test bench clean-venv

$(BIN)/promptloop: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $(BIN)/promptloop

setup: $(BIN)/promptloop

demo: setup
	$(BIN)/promptloop session --start anxious --target calm --prefer "piano, soft pads, rain" \
		--avoid drums --segments 6 --segment-seconds 10 --seed 7 --out out/demo --overwrite

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python eval/bench_embedded.py

clean-venv:
	rm -rf $(VENV)
