# Every target sets up what it needs first and is safe to run again.
#   make book     build the rendered book into _build/html (offline: see `make vendor`)
#   make test     unit tests, every chapter through nbval, and the browser tests (book, JupyterLab)
#   make variant NAME=foreign   the chapters in one variant (another machine, one thread, another seed,
#                 Colab's torch, ipywidgets 7, the reader's install, Colab itself, ...): each is a row of
#                 tools/variants.py, which `python tools/variants.py list` prints; CHAPTERS= some only
#   make ci       every variant CI runs on a push, as .ci/run does (make test's among them)
#   make mutants  plant realistic bugs in ae_helpers one at a time; nbval must catch every one
#   make notebooks  re-execute the chapters and store their outputs
#   make spread   re-execute and store the chapters, re-run them in the variants with a spread column
#                 (four other seeds, four other numeric environments), and set the checked numbers'
#                 ranges (ae_helpers/expected.json, tests/SPREAD.md)
#   make book-time  the book's time under nbval from an empty cache, in reference epochs timed between
#                 chapters (CHAPTERS="book/05_uses.ipynb" times chapters alone, each from an empty cache;
#                 REPEAT=3 reports the medians of three measurements)
#   make vendor   MathJax, require.js and the widget manager for the book, from npm (package.json)
#   make lab      Jupyter Lab on the chapters
#   make bench    training-speed benchmark (prints ratios, not a test)
#   make clean    remove the built book (data, model cache and the environments stay)
#   make prereqs  find (or, as root with apt-get, install) the browser and npm that `make test` needs

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)

# The lock needs Python 3.11 or newer. Checked as soon as make reads this file, so that an older one
# (macOS ships 3.9), found on PATH or named with PYTHON=, stops every target at once with one line
# instead of failing deep inside pip's resolver. `make clean` and `make distclean` need no Python.
PYTHON_MIN := 3 11
PYTHON_VERSION := $(if $(PYTHON),$(word 2,$(shell { $(PYTHON) --version; } 2>/dev/null)))
PYTHON_OK := $(shell v="$(subst ., ,$(PYTHON_VERSION))"; set -- $$v $(PYTHON_MIN); \
	{ [ "$$1" -gt "$$4" ] || { [ "$$1" -eq "$$4" ] && [ "$$2" -ge "$$5" ]; }; } 2>/dev/null && echo yes)
ifneq ($(filter-out clean distclean,$(or $(MAKECMDGOALS),all)),)
ifeq ($(PYTHON),)
$(error no Python found (python3.11, python3.12, python3.13 or python3 on PATH): install Python 3.11 or newer, or name one with make PYTHON=/path/to/python3.11)
else ifneq ($(PYTHON_OK),yes)
$(error Python 3.11 or newer is needed (requirements/lock.txt pins packages for it) and $(PYTHON) is $(or $(PYTHON_VERSION),not a working Python): install 3.11 or newer, or name one with make PYTHON=/path/to/python3.11)
endif
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

VENDOR_STAMP := node_modules/.vendor-stamp
BOOK_STAMP := _build/.html-build-ok

.PHONY: prereqs book-prereqs install data vendor book test variant ci test-foreign test-threads test-ipywidgets7 test-reader test-settings test-torch mutants notebooks spread lab bench book-time clean distclean

# Before anything long: the browser tests need a Chromium or Chrome (tools/browsers.py says where it
# looks; AE_BROWSER overrides) and the offline book needs npm. Missing ones are installed from Debian
# when we are root with apt-get; otherwise `make test` stops here with one line naming the fix.
# `make book` only tries to install npm: without it the book still builds, with CDN scripts.
prereqs:
	@$(PYTHON) tools/browsers.py --need browser npm

book-prereqs:
	@$(PYTHON) tools/browsers.py --want npm --who "make book"

install: $(STAMP) data

$(STAMP): requirements/lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements/lock.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

# Fetches MNIST only when the verified files are not there yet.
data: $(STAMP)
	$(BIN)/python -m ae_helpers fetch

# The browser scripts the built book serves itself (book/_ext/offline_assets.py copies them into
# _build/html/_vendor/), installed exactly as package-lock.json pins them. With no npm, or when
# the install fails, the build falls back to CDNs and says so in one line. (npm is looked up when
# the rule runs, so one that the prerequisite step has just installed counts.)
vendor: $(VENDOR_STAMP)
	@:

$(VENDOR_STAMP): package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then :; \
	elif npm ci --no-audit --no-fund --ignore-scripts --loglevel=error; then touch $@; \
	else echo "make vendor: npm ci failed; the book will load MathJax and the widget scripts from CDNs"; fi

book: book-prereqs install vendor
	$(BIN)/jupyter-book build . -n -W --keep-going
	@touch $(BOOK_STAMP)

# Every way of running the chapters (the book as stored, another machine, one thread, another seed,
# Colab's torch, ipywidgets 7, the reader's install, Colab itself, planted bugs) is a row of the table in
# tools/variants.py, which also builds the environments of their own (.venv-<name>) and holds the thread
# count. `python tools/variants.py list` prints it. Each run has an empty model cache of its own.
VARIANTS := $(PYTHON) tools/variants.py

# The README's test command: the `stored` variant (the unit tests, every chapter re-run under nbval and
# the rendered book in a browser; it first runs `make prereqs install vendor data`).
test:
	$(VARIANTS) run stored

# One variant or several, by name: make variant NAME=foreign, NAME="threads-1 colab"; CHAPTERS= runs some
# chapters only, SETTINGS="SEED=8" injects chapter settings (papermill, after the "parameters" cell).
NAME ?=
CHAPTERS ?=
SETTINGS ?=
variant:
	@test -n "$(NAME)" || { echo 'make variant: name one, e.g. make variant NAME=foreign (python tools/variants.py list)'; exit 2; }
	$(VARIANTS) run $(NAME) $(CHAPTERS) $(foreach s,$(SETTINGS),--set $(s))

# What CI runs on every push (.ci/run, and the GitHub workflow one job each): every variant the table
# marks "push", in its order, each reported in one line at the end.
ci:
	$(VARIANTS) run --ci push

# The variants used to be targets of their own; say where each went.
test-foreign test-threads test-ipywidgets7 test-reader test-settings test-torch:
	@echo "make $@ is now a variant: make variant NAME=<name> (python tools/variants.py list names them all;" \
		"test-threads with THREADS=1 is threads-1, test-settings with SEED=7 is seed-7, test-torch with TORCH=2.11.0 is torch-colab)"; exit 2

# Realistic one-line bugs, planted one at a time in a copy of ae_helpers: nbval over the chapters that
# use the changed code must fail for each (tools/mutants.py lists them; MUTANTS="no-shuffle" runs some).
MUTANTS ?=
mutants:
	$(VARIANTS) run mutants $(MUTANTS)

# Re-execute every chapter top to bottom in a fresh kernel and store it (after editing one), with the
# stored variant's variables (its thread count above all).
notebooks: install
	env $$($(VARIANTS) env stored) $(BIN)/python tools/execute_notebooks.py $(CHAPTERS)

# After a change to what a chapter computes: store it and re-measure its tolerances in the variants the
# table gives a spread column (a few minutes per chapter each). CHAPTERS="book/02_latent2d.ipynb ..."
# does some chapters only.
spread: install data
	$(BIN)/python tools/measure_spread.py $(CHAPTERS)

lab: install
	$(BIN)/jupyter lab book/

bench: install
	$(BIN)/python benchmarks/train_speed.py

# REPEAT=3 measures three times and reports the medians.
REPEAT ?= 1
book-time: install data
	$(BIN)/python benchmarks/book_time.py --repeat $(REPEAT) $(CHAPTERS)

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) .venv-* data cache node_modules
