# Every target sets up what it needs first and is safe to run again.
#   make book   build the rendered book into _build/html (offline: see `make vendor`)
#   make vendor MathJax, require.js and the widget manager for the book, from npm (package.json)
#   make test   unit tests, the chapters through nbval, and the browser tests (book, JupyterLab)
#   make test-foreign  the chapters through nbval again, as on another machine (empty model cache)
#   make test-threads  the chapters through nbval with another number of threads (THREADS=1)
#   make test-ipywidgets7  the widget tests against ipywidgets 7.7 (Colab's), in .venv-ipw7
#   make test-reader  the reader's install (requirements/reader.txt) in .venv-reader, running chapter 1
#   make notebooks  re-execute the chapters and store their outputs
#   make spread     re-execute and store the chapters, re-run them with four other seeds and in four
#                   other numeric environments, and set the checked numbers' ranges (ae_helpers/expected.json,
#                   tests/SPREAD.md)
#   make test-settings  the chapters through nbval with other settings: SETTINGS="SEED=7" (papermill)
#   make test-torch the chapters through nbval with another PyTorch (TORCH=2.11.0, Colab's), in .venv-torch-*
#   make mutants    plant realistic bugs in ae_helpers one at a time; nbval must catch every one
#   make lab    Jupyter Lab on the chapters
#   make bench  training-speed benchmark (prints ratios, not a test)
#   make book-time  the book's seconds under nbval from an empty cache, beside this machine's speed
#                   (CHAPTERS="book/05_uses.ipynb" times chapters alone, each from an empty cache;
#                   REPEAT=3 reports the medians of three measurements)
#   make clean  remove the built book (data, model cache and .venv stay)
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

.PHONY: prereqs book-prereqs install data vendor book test test-foreign test-threads test-ipywidgets7 test-reader test-settings test-torch mutants notebooks spread lab bench book-time clean distclean

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

# Seeded training repeats bit for bit only at a fixed number of threads: the chapters' stored
# outputs were computed with BOOK_THREADS, so nbval re-runs them the same way on any machine.
BOOK_THREADS := 2

# Under the tests a chapter's failed check (expect, claim) fails the chapter; in a reader's own
# session it only prints a line (ae_helpers/checks.py). conftest.py sets the same for a bare pytest.
STRICT := AE_STRICT_CHECKS=1

# tests/test_book_browser.py builds the book itself when _build/html is older than its sources.
test: prereqs install vendor
	$(STRICT) OMP_NUM_THREADS=$(BOOK_THREADS) $(BIN)/python -m pytest --nbval

# A machine unlike the one that stored the outputs: MKL's compatible code path, PyTorch's kernels
# without vector instructions, and nothing trained before. The chapters' checks must still pass.
FOREIGN_ENV := MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default

test-foreign: install
	rm -rf _build/foreign-cache
	AE_CACHE_DIR=$(CURDIR)/_build/foreign-cache $(FOREIGN_ENV) $(STRICT) OMP_NUM_THREADS=$(BOOK_THREADS) \
		$(BIN)/python -m pytest --nbval book/

# Another number of threads (a laptop with more cores, or one): the matrix products add up in another
# order, so the training runs differ in their last bits and then in their trajectories.
THREADS ?= 1

test-threads: install
	rm -rf _build/threads-cache
	AE_CACHE_DIR=$(CURDIR)/_build/threads-cache $(STRICT) OMP_NUM_THREADS=$(THREADS) \
		$(BIN)/python -m pytest --nbval book/

# The chapters with other settings, as a reader who changes the settings cell would run them: papermill
# injects SETTINGS after each chapter's cell tagged "parameters" (the stored outputs stay), then nbval
# re-runs the copies from an empty model cache and compares them with what the book stores.
SETTINGS ?= SEED=7

test-settings: install
	rm -rf _build/settings _build/settings-cache
	$(BIN)/python tools/execute_notebooks.py --prepare-only --out-dir _build/settings $(foreach s,$(SETTINGS),-p $(s))
	AE_CACHE_DIR=$(CURDIR)/_build/settings-cache $(STRICT) OMP_NUM_THREADS=$(BOOK_THREADS) \
		$(BIN)/python -m pytest --nbval _build/settings

# Another PyTorch: Colab's by default, or the oldest pyproject.toml admits (TORCH=2.4.1). The first run
# downloads it (several GB) into .venv-torch-<version>; tools/other_torch.py says what else it holds.
TORCH ?= 2.11.0

test-torch: install
	$(BIN)/python tools/other_torch.py $(TORCH)

# Realistic one-line bugs, planted one at a time in a copy of ae_helpers: nbval over the chapters that
# use the changed code must fail for each (tools/mutants.py lists them). Prints one line per mutant.
mutants: install
	OMP_NUM_THREADS=$(BOOK_THREADS) $(BIN)/python tools/mutants.py

# Colab ships ipywidgets 7.7.1: the explorers must work there as well as on the 8.x of .venv.
# .venv-ipw7 holds what tests/test_widgets.py needs, at the lock's versions (torch from the same
# wheels), with ipywidgets 7.7.1 and an ipykernel below 7 (Colab's is 6.x) in place of the lock's.
# Measured on 2 cores: about 90 s and 5.8 GB (torch's CUDA wheels) from scratch, 6 s warm.
IPW7_VENV := .venv-ipw7
IPW7_STAMP := $(IPW7_VENV)/.installed
IPW7_PINS := "ipywidgets==7.7.1" "ipykernel<7"

$(IPW7_STAMP): requirements/lock.txt pyproject.toml Makefile
	test -x $(IPW7_VENV)/bin/python || $(PYTHON) -m venv $(IPW7_VENV)
	grep -v -i -E '^(ipywidgets|widgetsnbextension|jupyterlab[-_]widgets|ipykernel)==' requirements/lock.txt \
		> $(IPW7_VENV)/constraints.txt
	$(IPW7_VENV)/bin/python -m pip install --disable-pip-version-check -q -c $(IPW7_VENV)/constraints.txt \
		$(IPW7_PINS) torch numpy matplotlib pillow tqdm pytest
	$(IPW7_VENV)/bin/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

test-ipywidgets7: $(IPW7_STAMP)
	$(IPW7_VENV)/bin/python -m ae_helpers fetch
	$(IPW7_VENV)/bin/python -c "import ipywidgets; assert ipywidgets.__version__.startswith('7.7'), ipywidgets.__version__"
	OMP_NUM_THREADS=$(BOOK_THREADS) $(IPW7_VENV)/bin/python -m pytest tests/test_widgets.py \
		-W "ignore:The \`ipykernel.comm.Comm\` class has been deprecated:DeprecationWarning"

# The reader's install (requirements/reader.txt: ae_helpers with pyproject.toml's loose ranges, and
# JupyterLab), without the contributors' tools, in a folder of its own, and chapter 1 under nbval in
# it. torch and torchvision are held at the lock's versions so the check reuses the wheels `make
# install` fetched (a reader gets the newest ones). The size is measured before pytest and nbval,
# which only the check needs, are added. About 2 minutes from scratch on 2 cores, 10 s warm.
READER_VENV := .venv-reader
READER_STAMP := $(READER_VENV)/.installed

$(READER_STAMP): requirements/reader.txt pyproject.toml
	rm -rf $(READER_VENV)
	$(PYTHON) -m venv $(READER_VENV)
	grep -E '^torch(vision)?==' requirements/lock.txt > $(READER_VENV)/torch-pins.txt
	$(READER_VENV)/bin/python -m pip install --disable-pip-version-check -q \
		-c $(READER_VENV)/torch-pins.txt -r requirements/reader.txt
	@echo "make test-reader: the reader's environment takes $$(du -sh $(READER_VENV) | cut -f1)"
	$(READER_VENV)/bin/python -m pip install --disable-pip-version-check -q "pytest>=7" "nbval>=0.11"
	touch $@

test-reader: $(READER_STAMP)
	$(READER_VENV)/bin/python -m ae_helpers fetch
	OMP_NUM_THREADS=$(BOOK_THREADS) $(READER_VENV)/bin/python -m pytest --nbval --nbval-current-env book/01_data.ipynb

# Re-execute every chapter top to bottom in a fresh kernel and store it (after editing one).
notebooks: install
	OMP_NUM_THREADS=$(BOOK_THREADS) $(BIN)/python tools/execute_notebooks.py

# After a change to what a chapter computes: store it and re-measure its tolerances (a few minutes
# per chapter). Pass CHAPTERS="book/02_latent2d.ipynb ..." to do some chapters only.
spread: install
	OMP_NUM_THREADS=$(BOOK_THREADS) $(BIN)/python tools/measure_spread.py $(CHAPTERS)

lab: install
	$(BIN)/jupyter lab book/

bench: install
	$(BIN)/python benchmarks/train_speed.py

# REPEAT=3 measures three times and reports the medians.
REPEAT ?= 1
book-time: install
	OMP_NUM_THREADS=$(BOOK_THREADS) $(BIN)/python benchmarks/book_time.py --repeat $(REPEAT) $(CHAPTERS)

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) $(IPW7_VENV) $(READER_VENV) .venv-torch-* data cache node_modules
