# Every target sets up what it needs first and is safe to run again.
#   make book   build the rendered book into _build/html
#   make test   unit tests, the chapters through nbval, and the browser test
#   make lab    Jupyter Lab on the chapters
#   make bench  training-speed benchmark (prints ratios, not a test)
#   make clean  remove the built book (data, model cache and .venv stay)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install data book test lab bench clean distclean

install: $(STAMP) data

$(STAMP): requirements/lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements/lock.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

# Fetches MNIST only when the verified files are not there yet.
data: $(STAMP)
	$(BIN)/python -m ae_helpers fetch

book: install
	$(BIN)/jupyter-book build . -n -W --keep-going

test: install
	$(BIN)/python -m pytest --nbval

lab: install
	$(BIN)/jupyter lab book/

bench: install
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) data cache
