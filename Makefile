# Two commands for a newcomer: `make run` and `make test`. Nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test test-all test-deploy lint typecheck clean bench bench-quick fuzz load load-quick

$(BIN)/.runtime: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt 1>&2
	@touch $@

$(BIN)/.dev: requirements.txt requirements-dev.txt $(BIN)/.runtime
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt 1>&2
	@touch $@

# moto[server] is the embedded DynamoDB: a dev requirement, never shipped to Lambda.
run: $(BIN)/.dev
	@$(BIN)/python -m devserver --port $(PORT)

# The fast tier: every test but those marked slow (pyproject.toml), in about two minutes on two cores.
test: $(BIN)/.dev lint typecheck
	$(BIN)/python -m pytest -m "not slow"

# Everything offline: the fast tier and the slow tests (fuzz, fault injection, conformance, large groups, load).
# CI runs this, then test-deploy, from .ci/run.
test-all: $(BIN)/.dev lint typecheck
	$(BIN)/python -m pytest

# tests/test_deploy.py: a real `chalice deploy --stage dev`, then `make deploy` from a fresh clone, against moto's
# server on 127.0.0.1; and the package it ships: its bytecode (tests/test_bytecode.py), the bench's cold starts from
# it (tests/test_bench.py). Not in `make test`, which stays offline: Chalice downloads the Lambda wheels from PyPI.
test-deploy: $(BIN)/.dev
	SCIM_DEPLOY_TEST=1 $(BIN)/python -m pytest tests/test_deploy.py tests/test_bytecode.py tests/test_bench.py

# tests/test_fuzz.py with many more generated requests than `make test` sends, a new seed each run.
fuzz: $(BIN)/.dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_fuzz.py

lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache

# What each SCIM operation costs against a floor measured in the same run, how that scales with
# tenant size, and cold starts (docs/design/performance.md). Prints the tables, writes bench/results.json.
bench: $(BIN)/.dev
	$(BIN)/python -m bench

# The same at 1/10 of the large sizes, in under a minute; writes bench/results-quick.json.
bench-quick: $(BIN)/.dev
	$(BIN)/python -m bench --quick --output bench/results-quick.json

# A fresh `make run` driven over HTTP as an IdP's first sync: LOAD_USERS created by LOAD_CLIENTS keep-alive
# clients at once, then GETs and filters (docs/design/performance.md). Prints creates/s, errors, RSS; writes bench/load.json.
LOAD_USERS ?= 10000
LOAD_CLIENTS ?= 4
load: $(BIN)/.dev
	$(BIN)/python -m bench.load --users $(LOAD_USERS) --clients $(LOAD_CLIENTS)

# The same with 1,000 users, in about half a minute; writes bench/load-quick.json.
load-quick: $(BIN)/.dev
	$(BIN)/python -m bench.load --users 1000 --clients $(LOAD_CLIENTS) --output bench/load-quick.json

# The generated pages of docs/: the settings from chalicelib/config.py, the performance figures from
# bench/results.json and bench/load.json. tests/test_docs.py fails while a committed page is stale.
.PHONY: docs
docs: $(BIN)/.dev
	$(BIN)/python -m infra.settings_doc
	$(BIN)/python -m bench.docs

# Deploying to AWS (docs/operations/deploy.md): `make deploy-infra STAGE=dev` once, then every release
# `chalice deploy --stage dev` (or `make deploy STAGE=dev`, which adds the two gateway responses). Not run by CI
# against AWS (tests/test_deploy.py runs it against moto's server): needs the AWS CLI, credentials and a region.
.PHONY: templates openapi check-stage deploy-infra deploy flush-auth-cache
INFRA_STACK = scim-$(STAGE)-infra

# infra/stack.json is generated from chalicelib/ (tables, secrets); a test fails when it is stale.
templates: $(BIN)/.runtime
	$(BIN)/python -m infra.templates

# The management API's OpenAPI document, kept in docs/ (a test fails when it is stale).
openapi: $(BIN)/.dev
	$(BIN)/python -m chalicelib.management.openapi docs/reference/management-openapi.json

# A deployable stage has its own IAM policy files in .chalice/.
check-stage:
	@test -n "$(STAGE)" -a -f .chalice/policy-$(STAGE).json || \
		{ echo "usage: make $(MAKECMDGOALS) STAGE=dev|prod (a stage with .chalice/policy-<stage>.json)" >&2; exit 2; }

# The stage's tables and secrets; termination protection on, and each table keeps deletion protection.
# The platform's IAM principal allowed to assume scim-<stage>-management-caller (empty: no such role), and
# the REST API's id once chalice deploy made it (docs/reference/management-api.md).
MANAGEMENT_CALLER_ARN ?=
API_ID ?= *
deploy-infra: check-stage $(BIN)/.runtime
	$(BIN)/python -m infra.templates --check
	aws cloudformation deploy --stack-name $(INFRA_STACK) --template-file infra/stack.json \
		--parameter-overrides Stage=$(STAGE) "ManagementCallerArn=$(MANAGEMENT_CALLER_ARN)" "ApiId=$(API_ID)" \
		--capabilities CAPABILITY_NAMED_IAM --tags app=onemodel-scim stage=$(STAGE) --no-fail-on-empty-changeset
	aws cloudformation update-termination-protection --enable-termination-protection --stack-name $(INFRA_STACK)

# Hash-checked bytecode for the Lambda package (infra/bytecode.py): chalicelib/__pycache__ and vendor/, which
# chalice deploy ships as they are. Without it a deploy is correct, its cold starts slower (docs/design/performance.md).
.PHONY: bytecode
bytecode: $(BIN)/.dev
	$(BIN)/python -m infra.bytecode

# The release: chalice deploy, then the gateway responses for a missing Authorization header and an unknown path.
# .chalice/deployed/<stage>.json is the shared record of which API is the stage's: commit it after a deploy.
deploy: check-stage $(BIN)/.dev bytecode
	$(BIN)/python -m infra.release preflight $(STAGE)
	$(BIN)/chalice deploy --stage $(STAGE)
	$(BIN)/python -m infra.release gateway-responses $(STAGE)
	@git status --porcelain -- .chalice/deployed 2>/dev/null | grep -q . && \
		echo "Commit and push .chalice/deployed/$(STAGE).json, so the next deploy updates this API." >&2 || true

# A revoked credential stays accepted while API Gateway caches the authorizer's decision (60 s, app.py); this ends it now.
flush-auth-cache: check-stage $(BIN)/.runtime
	$(BIN)/python -m infra.release flush-auth-cache $(STAGE)
