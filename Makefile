# Two commands for a newcomer: `make run` and `make test`. Nothing else needs installing by hand.
# Any Python of SUPPORTED_PYTHON (pyproject.toml's requires-python) will do: PYTHON=python3.13 names one; a .venv
# made by another needs `make clean` first. Deploys run on the stage's own Python (.chalice/config.json).
PYTHON ?= python3
SUPPORTED_PYTHON := 3.11 3.12 3.13
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8000
PIP_INSTALL = $(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps

.PHONY: run test test-all test-deploy lint typecheck clean bench bench-quick fuzz load load-quick lock

# requirements.txt and requirements-dev.txt are locks (make lock): every package pinned, with its hashes.
$(BIN)/.runtime: requirements.txt
	@test -x $(BIN)/python || { $(PYTHON) -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] not in "$(SUPPORTED_PYTHON)".split())' \
		2>/dev/null || { echo "make: $(PYTHON) is not Python $(SUPPORTED_PYTHON): name one, e.g. make $(or $(MAKECMDGOALS),run) PYTHON=python3.13" >&2; exit 2; }; \
		$(PYTHON) -m venv $(VENV); }
	@$(PIP_INSTALL) -r requirements.txt 1>&2
	@touch $@

$(BIN)/.dev: requirements.txt requirements-dev.txt $(BIN)/.runtime
	@$(PIP_INSTALL) -r requirements-dev.txt 1>&2
	@touch $@

# Regenerates both locks from requirements.in and requirements-dev.in (the lists a person edits), for every supported
# Python and platform at once; the runtime lock constrains the dev one, so both install the same runtime versions.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --generate-hashes --python-version $(firstword $(SUPPORTED_PYTHON)) \
	--custom-compile-command "make lock"
lock: $(BIN)/.dev
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -c requirements.txt -o requirements-dev.txt

# moto[server] is the embedded DynamoDB: a dev requirement, never shipped to Lambda.
run: $(BIN)/.dev
	@$(BIN)/python -m devserver --port $(PORT)

# The fast tier: every test but those marked slow (pyproject.toml), spread over the machine's cores (pytest-xdist):
# about 95 s on two quiet cores, 221 s in one process.
test: $(BIN)/.dev lint typecheck
	$(BIN)/python -m pytest -m "not slow" -n auto

# Everything offline: the fast tier and the slow tests (fuzz, fault injection, conformance, large groups, load).
# CI runs this, then test-deploy, from .ci/run.
test-all: $(BIN)/.dev lint typecheck
	$(BIN)/python -m pytest

# tests/test_deploy.py: an operator's path against moto's server on 127.0.0.1 (make deploy-infra, a plain `chalice
# deploy --stage dev`, make deploy from a fresh clone, another release, make rollback, make destroy); and the package
# it ships: its bytecode (tests/test_bytecode.py), the bench's cold starts from it (tests/test_bench.py), two
# packagings the same file by file. Not in `make test`, which stays offline: Chalice downloads the Lambda wheels from
# PyPI. They run on the dev stage's Python, as make deploy does.
test-deploy:
	@$(call with_stage_python,dev,deploy-tests)

deploy-tests: $(BIN)/.dev
	SCIM_DEPLOY_TEST=1 $(BIN)/python -m pytest tests/test_deploy.py tests/test_bytecode.py tests/test_bench.py \
		tests/test_reproducible_package.py

# tests/test_fuzz.py with many more generated requests than `make test` sends, a new seed each run.
fuzz: $(BIN)/.dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_fuzz.py

lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .venv .venv-* .pytest_cache .mypy_cache .ruff_cache

# What each SCIM operation costs against a floor measured in the same run, how that scales with
# tenant size, and cold starts (docs/design/performance.md). Prints the tables, writes bench/results.json.
bench:
	@$(call with_stage_python,dev,stage-bench)

# The bench packages the Lambdas (their cold starts from the package) as `make deploy` ships them: on the dev stage's
# Python, with the bytecode compiled first (a module edited since the last `make bytecode` would compile on every
# cold start: 7 of them cost about 20 ms).
stage-bench: $(BIN)/.dev stage-bytecode
	$(BIN)/python -m bench $(BENCH_ARGS)

# The same at 1/10 of the large sizes, in under a minute; writes bench/results-quick.json.
bench-quick:
	@$(call with_stage_python,dev,stage-bench BENCH_ARGS="--quick --output bench/results-quick.json")

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

# Deploying to AWS (docs/operations/releases.md): `make deploy-infra STAGE=dev` once (and when infra/ changes), then
# every release `make deploy STAGE=dev` (a plain `chalice deploy --stage dev` is correct too: unrecorded, and without
# per-tenant limits until the next make deploy). Not run by CI against AWS (tests/test_deploy.py runs them against
# moto's server): needs AWS credentials and a region.
.PHONY: templates openapi check-stage deploy-infra deploy deploy-preflight releases rollback smoke destroy flush-auth-cache

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

# The stage's tables, secrets, alarms, deploy lock table, provisioning-event bus and queues and, given
# MANAGEMENT_CALLER_ARN (the platform's IAM principal), the role that calls the management API (infra/infra_stack.py,
# boto3: no AWS CLI needed; the role may invoke the API of .chalice/deployed/<stage>.json once it exists:
# docs/reference/management-api.md); termination protection on, and each data table keeps deletion protection.
# Then the stack's stream ARNs, bus and queues go into the stage's environment in .chalice/config.json (commit it):
# chalice deploy reads the stream ARNs from there to create the stream functions (docs/reference/events.md).
MANAGEMENT_CALLER_ARN ?=
deploy-infra: check-stage $(BIN)/.runtime
	$(BIN)/python -m infra.templates --check
	$(BIN)/python -m infra.release deploy-infra $(STAGE) --management-caller-arn "$(MANAGEMENT_CALLER_ARN)"

# Chalice ships the Python that runs it as the Lambda runtime, so what packages a stage runs on the stage's own
# ("python_version" in .chalice/config.json): $(call with_stage_python,STAGE,TARGET) makes TARGET with that Python and
# its venv (infra/stage_python.py finds python3.X on the PATH or in ~/.pyenv; PYTHON=... names it instead), or
# stops with one line saying what to install.
with_stage_python = found="$$(python3 -m infra.stage_python $(1) $(if $(filter command line environment,$(origin PYTHON)),--python '$(PYTHON)'))" \
	|| exit 2; $(MAKE) --no-print-directory $(2) STAGE=$(1) PYTHON="$$(echo "$$found" | sed -n 1p)" VENV="$$(echo "$$found" | sed -n 2p)"

# Hash-checked bytecode for the Lambda package (infra/bytecode.py): chalicelib/__pycache__ and vendor/, which
# chalice deploy ships as they are. Without it a deploy is correct, its cold starts slower (docs/design/performance.md).
.PHONY: bytecode stage-bytecode release stage-rollback deploy-tests stage-bench
bytecode:
	@$(call with_stage_python,$(or $(STAGE),dev),stage-bytecode)

stage-bytecode: $(BIN)/.dev
	$(BIN)/python -m infra.bytecode --stage $(STAGE)

# The release (infra/stage_release.py), on the stage's Python: checks first (release Python, secrets, a clean tree
# for prod, the stage's deploy lock free), then the bytecode, then under the stage's deploy lock: chalice deploy, the
# stream functions' retries and dead-letter queue, the two gateway responses, per-tenant limits (usage plans keyed by the authorizer: docs/operations/tenant-limits.md),
# the guardrails of infra/stages.json (log retention, stage throttling) and the release record
# (.chalice/deployed/<stage>.releases.json and the functions' tags). Commit .chalice/deployed/ after it.
deploy: check-stage
	@$(call with_stage_python,$(STAGE),release)

release: check-stage $(BIN)/.dev
	$(BIN)/python -m infra.release preflight $(STAGE)
	$(BIN)/python -m infra.bytecode --stage $(STAGE)
	$(BIN)/python -m infra.release deploy $(STAGE)

deploy-preflight: check-stage $(BIN)/.runtime
	$(BIN)/python -m infra.release preflight $(STAGE)

# The stage's recorded releases (.chalice/deployed/<stage>.releases.json) and the release its functions run (their tags).
releases: check-stage $(BIN)/.runtime
	$(BIN)/python -m infra.release releases $(STAGE)

# The previous recorded release again (or RELEASE=<n>), on the stage's Python, from a clean git worktree of its commit
# and lock, with the stage's newest .chalice/deployed/<stage>.json.
rollback: check-stage
	@$(call with_stage_python,$(STAGE),stage-rollback)

stage-rollback: check-stage $(BIN)/.dev
	$(BIN)/python -m infra.release rollback $(STAGE) $(if $(RELEASE),--to $(RELEASE))

# A deployed stage checked from outside (docs/operations/releases.md); SMOKE_URL overrides the deployed URL,
# SCIM_CLIENT_ID and SCIM_CLIENT_SECRET give the credential of the authenticated read.
smoke: $(BIN)/.runtime
	$(BIN)/python -m infra.smoke $(if $(STAGE),--stage $(STAGE)) $(if $(SMOKE_URL),--url $(SMOKE_URL))

# Removes a dev stage for good: API, functions, log groups, infra stack, tables, secrets and the events' dead-letter
# queue. Refused for prod.
destroy: check-stage $(BIN)/.dev
	$(BIN)/python -m infra.release destroy $(STAGE)

# A revoked credential stays accepted while API Gateway caches the authorizer's decision (60 s, app.py); this ends it now.
flush-auth-cache: check-stage $(BIN)/.runtime
	$(BIN)/python -m infra.release flush-auth-cache $(STAGE)
