# Set-up is two commands: `make run` (install, index the library, serve the chat) and `make test`.
# The library (the shipped seeds/ copied, uploads, the index) lives outside the checkout: rag/index/library.py.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 7860
SERVE_FLAGS ?=

.PHONY: install index run lint test clean

install: $(STAMP)

# torch first, pinned: the on-disk CPU build. A bare `torch` requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,eval]'
	touch $(STAMP)

index: install
	$(VENV)/bin/rag index

# The page comes up at once; `rag serve` indexes the library behind it and shows the progress there.
run: install
	$(VENV)/bin/rag serve --host $(HOST) --port $(PORT) $(SERVE_FLAGS)

# ruff (lint and format) and mypy, their settings in pyproject.toml; `make test` runs them first.
lint: install
	$(VENV)/bin/ruff check rag ui eval tests
	$(VENV)/bin/ruff format --check rag ui eval tests
	$(VENV)/bin/mypy rag ui eval

# pytest exits 5 when it ran no test: that is a failure here, not a pass.
test: lint
	$(PY) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest ran no tests" >&2; exit 1; fi; exit $$status

clean:
	rm -rf $(VENV) seeds/.rag-index .pytest_cache
