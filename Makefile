# One command per job. `make book` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv book release test clean bench

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

## Build the site into _build/html (executes the chapters; cached between builds).
book: venv
	$(BIN)/jupyter-book build . --warningiserror --keep-going

## Regenerate chapters/ and the nbgrader release from solutions/.
release: venv
	$(BIN)/python -m course.release

## Install the browser tests' browser: Debian's Chromium at /usr/bin/chromium (Playwright drives
## it; no test ever downloads a browser).
CHROMIUM := /usr/bin/chromium
.PHONY: browser
browser:
	@test -x $(CHROMIUM) || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	@test -x $(CHROMIUM)

## Install the autograder's sandbox: Debian's bubblewrap (course/sandbox.py runs every kernel in it).
.PHONY: sandbox
sandbox:
	@command -v bwrap >/dev/null || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap; }
	@command -v bwrap >/dev/null

## Run every test.
test: venv browser sandbox
	$(BIN)/python -m pytest

clean:
	rm -rf _build autograders/release autograders/autograded autograders/feedback autograders/submitted autograders/gradebook.db

## Time the grading command against plain nbgrader, and the site's builds (~10 min).
bench: venv
	$(BIN)/python scripts/benchmark_grading.py
