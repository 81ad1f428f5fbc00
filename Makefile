# The course's commands. Every target sets up .venv itself, so a fresh clone needs only
# Python 3.11 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
# nbgrader and jupyter-book call other tools of the environment by name.
export PATH := $(BIN):$(PATH)
export PYTHONUNBUFFERED := 1

ASSIGNMENTS := $(notdir $(wildcard solutions/*))

.PHONY: help install book wheel serve test test-gpu lint browser sandbox postgres release autograde \
	feedback grades clean pdf pdftools publish push-site
.PHONY: formgrader report

help:
	@echo "make book       build the website into _build/html (executes the notebooks)"
	@echo "make wheel      build the student rnnkit wheel into _build/wheel (REVEAL=... to add answers)"
	@echo "make pdf        build the whole book as one PDF, _build/pdf/rnn-course.pdf (offline)"
	@echo "make publish    build the site, then push it to PUBLISH_REMOTE's gh-pages branch"
	@echo "                (default: origin; PUBLISH_REMOTE=upstream to choose another remote)"
	@echo "make serve      build, then serve it on http://127.0.0.1:8000"
	@echo "make test       lint, build the site, run every test (what CI runs)"
	@echo "make test-gpu   run the package and notebook tests on CUDA (fails without it)"
	@echo "make release    generate every assignment from solutions/ into exercises/"
	@echo "make autograde  grade everything under submitted/ into the gradebook, in parallel,"
	@echo "                each submission sandboxed (AUTOGRADE_ARGS=--help lists options);"
	@echo "                ends with a score table, stopped cells and ungradable files"
	@echo "make formgrader start jupyter lab on 127.0.0.1 to grade written answers (Formgrader)"
	@echo "make feedback   write feedback/ (HTML) for every graded submission, regenerated"
	@echo "make grades     export the gradebook to grades.csv (status: graded/missing/ungradable)"
	@echo "make report     write report/index.html: score plots, the checks that fail most"
	@echo "make clean      remove build output and grading state (keeps .venv)"

install: $(STAMP)

# Exact versions of everything come from constraints.txt; torch is the CPU wheel.
# The grader is a package of its own (grader/, safegrade), installed beside rnnkit.
$(STAMP): pyproject.toml grader/pyproject.toml requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -r requirements.txt -e . -e './grader[autograde]'
	touch $@

# REVEAL="ch02_bptt ch04_lstm" (make book REVEAL=...) publishes those assignments' answers
# on the site and in the student wheel; without it, _config.yml's rnnkit_reveal decides.
ifdef REVEAL
export REVEAL
endif

book: $(STAMP) pdftools
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	$(BIN)/python scripts/student_wheel.py --out _build/html/wheels
	$(MAKE) --no-print-directory pdf && cp _build/pdf/rnn-course.pdf _build/html/rnn-course.pdf
	@echo "The site is in _build/html: open file://$(CURDIR)/_build/html/index.html"

# The wheels students install: rnnkit without the answer to any unrevealed assignment (see
# rnnkit/answers), and safegrade, whose checks the assignments' test cells import.
wheel: $(STAMP)
	$(BIN)/python scripts/student_wheel.py --out _build/wheel

serve: book
	$(BIN)/python -m http.server --directory _build/html --bind 127.0.0.1 8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The whole book as one PDF, offline, from the same sources: the single-page HTML build
# (its notebooks come from the cache that `make book` fills) printed by headless Chromium
# once MathJax has typeset it. PDF_OUT=DIR builds into DIR/_build instead.
PDF_OUT ?= $(CURDIR)
PDF_HTML = $(PDF_OUT)/_build/singlehtml
pdf: $(STAMP) browser pdftools
	$(BIN)/jupyter-book build . --builder singlehtml --path-output $(PDF_OUT) \
		--warningiserror --keep-going
	# singlehtml writes the book into book/intro.html with links relative to its root.
	cp $(PDF_HTML)/book/intro.html $(PDF_HTML)/rnn-course.html
	mkdir -p $(PDF_OUT)/_build/pdf
	chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
		--user-data-dir=$(PDF_OUT)/_build/pdf/.chromium --allow-file-access-from-files \
		--host-resolver-rules="MAP * ~NOTFOUND , EXCLUDE localhost" \
		--virtual-time-budget=30000 --print-to-pdf=$(PDF_OUT)/_build/pdf/rnn-course.pdf \
		file://$(PDF_HTML)/rnn-course.html
	rm -rf $(PDF_OUT)/_build/pdf/.chromium
	test -s $(PDF_OUT)/_build/pdf/rnn-course.pdf
	@echo "The book as one PDF: $(PDF_OUT)/_build/pdf/rnn-course.pdf"

# The PDF test reads the PDF with poppler-utils, and the chapters' Chinese terms need a CJK
# font on the machine that prints it (Debian's packages).
pdftools:
	@{ command -v pdfinfo >/dev/null && fc-list :lang=zh | grep -q .; } || { \
		echo "Installing Debian's poppler-utils and fonts-wqy-microhei for the PDF"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			poppler-utils fonts-wqy-microhei >/dev/null; }

# Publishing is one step: build the site (wheels and PDF included), then put it on the
# gh-pages branch of PUBLISH_REMOTE with ghp-import, the standard Jupyter Book way.
PUBLISH_REMOTE ?= origin
SITE_DIR ?= _build/html
publish: book
	$(MAKE) --no-print-directory push-site

# The site in SITE_DIR as the only commit of gh-pages (.nojekyll: serve _static as is),
# pushed with --force to PUBLISH_REMOTE (a remote's name or a repository's path/URL).
push-site:
	$(BIN)/ghp-import --no-jekyll --no-history --force --push --remote $(PUBLISH_REMOTE) \
		--branch gh-pages --message "Publish the course site" $(SITE_DIR)
	@echo "Published $(SITE_DIR) to the gh-pages branch of $(PUBLISH_REMOTE)"

# The site test loads pages in headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null || { \
		echo "Installing Debian's chromium for the headless site test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The grader runs students' code in a bubblewrap sandbox (Debian's package).
sandbox:
	@command -v bwrap >/dev/null || { \
		echo "Installing Debian's bubblewrap for the grading sandbox"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }

# The gradebook test starts a real PostgreSQL server (Debian's package) on loopback.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
		echo "Installing Debian's postgresql for the gradebook test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# nbval executes every chapter and checks its outputs, so the site that the tests read is
# built from the committed outputs: no chapter runs twice (book/_ext/buildmode.py). The site
# builds beside the tests that do not read it; its own tests follow (scripts/run_tests.py).
test: export RNNKIT_BOOK_EXECUTE := off
test: $(STAMP) browser sandbox postgres lint pdftools
	# Two workers on two cores: one torch thread each, or they fight over the cores.
	OMP_NUM_THREADS=1 $(BIN)/python scripts/run_tests.py

# CUDA only, from a fresh clone: its own .venv-gpu (never .venv, never in CI) with PyPI's
# default torch wheel, which is the CUDA build. The GPU is checked first, so a machine
# without one fails in seconds, before anything is created or downloaded.
GPU_VENV  := .venv-gpu
GPU_BIN   := $(CURDIR)/$(GPU_VENV)/bin
GPU_STAMP := $(GPU_VENV)/.installed

.PHONY: gpu-present
gpu-present:
	@nvidia-smi -L >/dev/null 2>&1 || { echo "make test-gpu: no NVIDIA GPU here" \
		"(nvidia-smi found none); run it on a CUDA machine" >&2; exit 1; }

$(GPU_STAMP): pyproject.toml grader/pyproject.toml requirements.txt constraints.txt | gpu-present
	test -x $(GPU_BIN)/python || $(PYTHON) -m venv $(GPU_VENV)
	$(GPU_BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(GPU_BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -r requirements.txt -e . -e './grader[autograde]'
	$(GPU_BIN)/python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else \
		'make test-gpu: the torch in $(GPU_VENV) sees no CUDA device (a CPU wheel?)')"
	touch $@

# The package tests and every chapter under nbval; notebooks' kernels find .venv-gpu first.
test-gpu: gpu-present $(GPU_STAMP)
	PATH="$(GPU_BIN):$$PATH" RNNKIT_DEVICE=cuda $(GPU_BIN)/python -m pytest -m "not site" \
		--ignore=tests/test_autograder.py --ignore=tests/test_hostile.py \
		--ignore=tests/test_postgres.py

# One nbgrader run for all assignments (a process for each took about 4 times as long).
release: $(STAMP)
	nbgrader generate_assignment "*" --force

# Every submission of every assignment, one sandboxed worker per core (see README).
autograde: $(STAMP) sandbox
	$(BIN)/python -m safegrade.autograde $(AUTOGRADE_ARGS)

# Regenerates all feedback (--force): a regrade or a grade changed in the formgrader must
# reach the student. nbgrader_config.py makes it readable offline (safegrade.feedback).
feedback: $(STAMP)
	@ls -d autograded/*/* >/dev/null 2>&1 || { echo "Nothing autograded yet: run make autograde"; exit 1; }
	nbgrader generate_feedback "*" --force
	@echo "Wrote feedback/<student_id>/<assignment>/*.html"

# safegrade.grades (nbgrader_config.py's ExportApp.plugin_class) adds a status column.
grades: $(STAMP)
	nbgrader export --to grades.csv
	@echo "Wrote grades.csv (status: graded, missing, ungradable or submitted) and grades_by_question.csv"

# The formgrader is a jupyter lab extension: Nbgrader > Formgrader, or the /formgrader page.
formgrader: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

report: $(STAMP)
	$(BIN)/python -m safegrade.report --out report

clean:
	rm -rf _build autograded feedback gradebook.db grades.csv grades_by_question.csv report \
		.pytest_cache
