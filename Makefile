# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := true
export PYTHONUNBUFFERED := 1
# dvc.yaml stages call `python`: make it the venv's
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run slices nnunet test venv ui bench clean-venv help sysdeps deps docs

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==25.3"
	# torch first and exactly pinned (CPU build from this machine's disk; unpinned = multi-GB CUDA download)
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -r requirements/lock.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the pinned stack

# `dvc repro` beside a warm process that starts its stages with torch and MONAI already imported (utils/zygote.py;
# the same results; BRATS_ZYGOTE=off: every stage imports them itself)
ZYGOTE := $(BIN)/python -m brats_mlops.utils.zygote
warm_repro = @$(ZYGOTE) start && trap '$(ZYGOTE) stop >/dev/null' EXIT && $(BIN)/dvc repro $(1)

run: $(STAMP)  ## set up and run the whole pipeline (dvc repro) on the embedded synthetic data
	@test -d .git || (git init -q && git add -A && git -c user.name=brats -c user.email=brats@localhost commit -qm "initial" )
	$(call warm_repro)
	@$(BIN)/brats-mlops where

slices: run  ## then the 2-D slice systems of seeds 001/004 (dvc repro slices/dvc.yaml; see README)
	$(call warm_repro,slices/dvc.yaml)

nnunet: run  ## then nnU-Net v2 on the same split, tracked and registered (dvc repro nnunet/dvc.yaml; see README)
	$(call warm_repro,nnunet/dvc.yaml)
	$(BIN)/brats-mlops compare --group default --group nnunet

# System packages the tests use: Chromium (the MLflow UI in a real browser) and PostgreSQL (a real server store).
SYSTEM_PKGS := chromium postgresql
sysdeps:  ## install the Debian packages the tests need (chromium, postgresql) when missing
	@if ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing $(SYSTEM_PKGS) (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(SYSTEM_PKGS) >/dev/null; \
	fi

test: $(STAMP) sysdeps  ## set up and run the whole test suite (slow tests included)
	$(BIN)/pytest -n 2 --dist loadgroup --no-loadscope-reorder --durations=25

deps: $(STAMP)  ## make every stage of the dvc.yaml files depend on its code manifest (data/code/; tests check it)
	$(BIN)/python -m brats_mlops.utils.stage_deps --write

docs: $(STAMP)  ## build the documentation site from docs/ into site/ (offline, strict: a broken link fails)
	$(BIN)/mkdocs build --strict
	@echo "open site/index.html"

ui: $(STAMP)  ## open the MLflow UI on the embedded tracking store
	$(BIN)/python -m mlflow_server.ui

bench: $(STAMP) sysdeps  ## run the benchmarks and rewrite bench/results/*.json (see BENCHMARKS.md)
	$(BIN)/python -m bench.bench_preprocess
	$(BIN)/python -m bench.bench_segmentation
	$(BIN)/python -m bench.bench_survival
	$(BIN)/python -m bench.bench_isa
	$(BIN)/python -m bench.bench_slices
	$(BIN)/python -m bench.bench_scale
	$(BIN)/python -m bench.bench_load
	$(BIN)/python -m bench.bench_metrics

clean-venv:
	rm -rf $(VENV)
