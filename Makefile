# Every target sets itself up: `make test` or `make repro` on a fresh clone is enough.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONPATH := $(CURDIR)

PAPER ?= tcn
TASK ?= jsb_chorales
PROFILE ?=
NPROC ?=
# seeds of a task trained at once, each in its own process (results as one after another)
JOBS ?= $(shell nproc)
# pytest processes of make test (pytest-xdist; tests that use the repository's DVC share one: xdist_group)
TEST_WORKERS ?= $(shell nproc)
PORT ?= 5000
STORE := $(or $(MLFLOW_TRACKING_URI),sqlite:///$(CURDIR)/mlflow/mlflow.db)

.PHONY: setup restore-data test test-fast repro bench ui report lint stages

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@# --no-compile: byte-compiling every installed module (torch's thousands) took half of a fresh
	@# clone's install (141 s -> 62 s here); Python compiles the modules a run imports on first use.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
	@touch $@

# `dvc pull data.dvc`, DVC's own messages shown. DVC refuses to run beside files in data/ that it
# does not track, and the --force it suggests deletes them: data/external/ (where bring-your-own
# corpora used to go) is refused first with the command that moves it, any other refusal explained.
define PULL_DATA
	@if [ -d data/external ]; then echo "error: data/external/ holds your own corpora, but data/ belongs to DVC: move them with \`mkdir -p external && mv data/external/* external/ && rmdir data/external\`, then run make again" >&2; exit 2; fi
	@dvc pull data.dvc || { echo "error: dvc pull data.dvc failed (DVC's message above). If DVC refuses because of files in data/ that it does not track, move them out of data/ (your own corpora to external/) and run make again; never add --force, which deletes them" >&2; exit 1; }
endef

## setup: the virtual environment with the pinned requirements, and the raw data (dvc pull)
setup: $(VENV)/.installed
	$(PULL_DATA)

## restore-data: put back the committed raw data after a file was corrupted (also after a
##               `dvc repro` re-hashed data.dvc to the corrupt content); deletes only the files
##               that fail their SOURCE.md sha256 (never a file of yours: DVC refuses to touch those)
restore-data: $(VENV)/.installed
	$(PY) -m shared.data.restore data
	git checkout -- data.dvc
	$(PULL_DATA)

## test: the whole test suite (unit, smoke, learns, end to end), then the check that no stage's
##       committed result is stale (dvc status: no modified dependency or parameter)
test: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=15
	$(PY) -m shared.run.stages --status

## test-fast: the unit tests only (no training runs, no real data), for the edit loop
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

## repro: PAPER=tcn TASK=jsb_chorales reproduces one task (its <stage>@<task>) with DVC at the profile of
##        papers/$(PAPER)/params.yaml (repro.profile); TASK=all runs the paper's whole pipeline;
##        PROFILE=smoke|cpu|paper runs the task directly (outside DVC) into runs/; a DVC repro ends by
##        saying whether each re-made number lies within the re-run tolerance of the committed one,
##        and with the paper's number beside ours;
##        DRY=1 lists the stages it would run and why, running nothing (and pulling no data);
##        with PROFILE, NPROC=N trains on N processes (GPUs) with torchrun and DistributedDataParallel;
##        JOBS=N trains N seeds at once in separate processes (default: one per core; JOBS=1: one after another)
repro: $(if $(DRY),$(VENV)/.installed,setup)
ifneq ($(DRY),)
	@# Not `dvc repro --dry`: it hashes the dependencies of every stage it would run, and fails on
	@# those not made yet (prepared/ on a fresh clone; treeverse/dvc#9818). dvc status does not.
	target=$$($(PY) -m shared.run.stages --target $(PAPER) $(TASK)) && dvc status --with-deps "$$target"
	@echo "(DRY=1) nothing was run; without DRY, make repro runs the stages listed above (none: up to date)"
else ifeq ($(PROFILE),)
	@$(if $(NPROC),echo "NPROC needs PROFILE=smoke|cpu|paper (DVC stages run one process)" >&2; exit 2)
	@# An unknown paper or task is an error here, before DVC runs anything.
	target=$$($(PY) -m shared.run.stages --target $(PAPER) $(TASK)) && SEQREPRO_JOBS=$(JOBS) dvc repro "$$target"
	$(PY) -m shared.report
ifeq ($(TASK),all)
	$(PY) -m shared.report.compare --paper $(PAPER)
else
	$(PY) -m shared.report.compare --paper $(PAPER) --task $(TASK)
endif
else ifeq ($(NPROC),)
	$(PY) -m papers.$(PAPER) train $(TASK) --profile $(PROFILE) --jobs $(JOBS)
else
	torchrun --standalone --nproc_per_node=$(NPROC) -m papers.$(PAPER) train $(TASK) --profile $(PROFILE)
endif

## bench: throughput of the shared cells vs torch.nn on this machine -> bench/results.json (~15 min), then the QRNN paper's speed grid -> bench/qrnn_speed.md, the Dilated RNN's, IndRNN's and Sliced RNN's training steps vs plain stacks (bench/sliced_rnn_speed.md), Tree-LSTM batched vs node by node, Deep Speech 2's audio seconds per second, and ConvS2S vs the GRU encoder-decoder -> bench/convs2s_speed.md
bench: $(VENV)/.installed
	$(PY) -m bench.cells
	$(PY) -m bench.qrnn
	$(PY) -m bench.dilated_rnn
	$(PY) -m bench.indrnn
	$(PY) -m bench.sliced_rnn
	$(PY) -m bench.tree_lstm
	$(PY) -m bench.deepspeech2
	$(PY) -m bench.convs2s

## ui: the MLflow UI on http://127.0.0.1:$(PORT) over mlflow/ (or $$MLFLOW_TRACKING_URI), after importing
##     every committed result into it (idempotent: shared/report/mlflow_import.py)
ui: setup
	MLFLOW_TRACKING_URI=$(STORE) $(PY) -m shared.report.mlflow_import
	mlflow ui --backend-store-uri $(STORE) --host 127.0.0.1 --port $(PORT) --workers 1

## report: regenerate RESULTS.md and the results table of every paper README
report: $(VENV)/.installed
	$(PY) -m shared.report

## stages: recompute every stage's code dependencies (the code closure of its entry module)
stages: $(VENV)/.installed
	$(PY) -m shared.run.stages

## lint: ruff
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
