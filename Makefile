# One command per job. `make book` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv book book-solutions release test quick clean bench axe

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

## Build the site into _build/html (executes the chapters; cached between builds). Its kernels
## get course.STEADY_KERNEL_ENV (one math thread, this checkout's matplotlib font cache), as the
## release's do: the pages do not depend on the machine's cores or caches.
book: export OMP_NUM_THREADS := 1
book: export MKL_NUM_THREADS := 1
book: export OPENBLAS_NUM_THREADS := 1
book: export MPLCONFIGDIR := $(CURDIR)/_build/matplotlib
book: venv
	$(BIN)/jupyter-book build . --warningiserror --keep-going

## After the deadline: a second site, every exercise's reference solution folded under its
## stub, in _build/solutions/_build/html. `make book` never contains solution code.
book-solutions: book
	$(BIN)/course solutions-site

## Regenerate chapters/ (the pages) from the text sources in solutions/, which it never writes;
## it releases nothing: `course release ID` releases an assignment to the course (autograders/).
release: venv
	$(BIN)/course release

## Debian packages the tests need, installed only when missing: Chromium (the browser tests;
## Playwright drives it, no test downloads a browser), bubblewrap (the grading sandbox),
## PostgreSQL (the gradebook on a database server) and npm (fetches axe-core, below).
SYSTEM_PACKAGES := /usr/bin/chromium:chromium /usr/bin/bwrap:bubblewrap /usr/lib/postgresql:postgresql /usr/bin/npm:npm
.PHONY: system
system:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do test -e "$${pair%%:*}" || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi
	@for pair in $(SYSTEM_PACKAGES); do test -e "$${pair%%:*}" || { echo "missing $${pair%%:*}"; exit 1; }; done

## axe-core, the accessibility audit the browser tests run in each page (tests/browser.py reads
## $(VENV)/npm/node_modules/axe-core/axe.min.js), pinned, from the npm registry; only when missing.
AXE_VERSION := 4.14.1
AXE_STAMP := $(VENV)/npm/axe-core@$(AXE_VERSION)
axe: $(AXE_STAMP)
$(AXE_STAMP): | system
	mkdir -p $(VENV)/npm
	npm install --prefix $(VENV)/npm --no-save --no-audit --no-fund --no-package-lock --loglevel=error axe-core@$(AXE_VERSION)
	test -s $(VENV)/npm/node_modules/axe-core/axe.min.js
	touch $@

## Run every test, in two processes (pytest-xdist; conftest.py groups what must run in turn):
## the suite waits on kernels, time limits and a browser more than it computes.
TEST_WORKERS ?= 2
test: venv system axe
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

## A contributor's quick loop: every test that needs no browser, sandbox, database, site build,
## whole-course release or notebook run (a few minutes). `make test` runs them all.
quick: venv
	$(BIN)/python -m pytest -m "not browser and not sandbox and not database and not slow"

clean:
	rm -rf _build autograders/source autograders/release autograders/autograded autograders/feedback autograders/submitted autograders/gradebook.db autograders/ledger

## Time the grading command against plain nbgrader, and the site's builds (~10 min).
bench: venv
	$(BIN)/python scripts/benchmark_grading.py
