# simgate: `make run` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/simgate run --demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	@$(BIN)/python -m ruff --version >/dev/null 2>&1 || $(BIN)/pip install --quiet ruff
	$(BIN)/python -m ruff check --isolated --line-length 100 --select E4,E7,E9,F gateway tests bench

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
