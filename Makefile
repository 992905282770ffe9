# Two commands for a newcomer: `make run` and `make test`. Nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint typecheck clean bench bench-quick fuzz

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

test: $(BIN)/.dev lint typecheck
	$(BIN)/python -m pytest

# tests/test_fuzz.py with many more generated requests than `make test` sends, a new seed each run.
fuzz: $(BIN)/.dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_fuzz.py

lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# What each SCIM operation costs against a floor measured in the same run, how that scales with
# tenant size, and cold starts (README, "Performance"). Prints the tables, writes bench/results.json.
bench: $(BIN)/.dev
	$(BIN)/python -m bench

# The same at 1/10 of the large sizes, in under a minute; writes bench/results-quick.json.
bench-quick: $(BIN)/.dev
	$(BIN)/python -m bench --quick --output bench/results-quick.json

# Deploying to AWS (README, "Deploying to AWS"): `make deploy-infra STAGE=dev` once, then `make deploy STAGE=dev`.
# Not run by CI: needs the AWS CLI, credentials and a region for the target account. STAGE is dev or prod.
.PHONY: templates check-stage deploy-infra deploy
INFRA_STACK = scim-$(STAGE)-infra
API_STACK = onemodel-scim-$(STAGE)
STACK_OUTPUT = aws cloudformation describe-stacks --output text --query "Stacks[0].Outputs[?OutputKey=='$(1)'].OutputValue" --stack-name

# infra/*.json are generated from chalicelib/ (tables, gateway responses); a test fails when they are stale.
templates: $(BIN)/.runtime
	$(BIN)/python -m infra.templates

# A deployable stage has its own IAM policy files in .chalice/.
check-stage:
	@test -n "$(STAGE)" -a -f .chalice/policy-$(STAGE).json || \
		{ echo "usage: make $(MAKECMDGOALS) STAGE=dev|prod (a stage with .chalice/policy-<stage>.json)" >&2; exit 2; }

# The stage's tables, secrets and code bucket; termination protection on, and each table keeps deletion protection.
deploy-infra: check-stage $(BIN)/.runtime
	$(BIN)/python -m infra.templates --check
	aws cloudformation deploy --stack-name $(INFRA_STACK) --template-file infra/stack.json \
		--parameter-overrides Stage=$(STAGE) --tags app=onemodel-scim stage=$(STAGE) --no-fail-on-empty-changeset
	aws cloudformation update-termination-protection --enable-termination-protection --stack-name $(INFRA_STACK)

# Chalice's SAM template merged with infra/api.json (gateway responses, secrets), deployed as one stack.
deploy: check-stage $(BIN)/.runtime
	$(BIN)/python -m infra.templates --check
	@set -eu; build=$$(mktemp -d); trap 'rm -rf "$$build"' EXIT; \
	bucket=$$($(call STACK_OUTPUT,ArtifactsBucket) $(INFRA_STACK)); \
	test -n "$$bucket" -a "$$bucket" != None || { echo "No code bucket: run make deploy-infra STAGE=$(STAGE) first" >&2; exit 1; }; \
	$(BIN)/chalice package --stage $(STAGE) --merge-template infra/api.json "$$build"; \
	aws cloudformation package --template-file "$$build/sam.json" --output-template-file "$$build/packaged.json" \
		--use-json --s3-bucket "$$bucket" --s3-prefix $(API_STACK); \
	aws cloudformation deploy --stack-name $(API_STACK) --template-file "$$build/packaged.json" \
		--s3-bucket "$$bucket" --s3-prefix $(API_STACK) --parameter-overrides Stage=$(STAGE) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --tags app=onemodel-scim stage=$(STAGE) \
		--no-fail-on-empty-changeset; \
	echo "SCIM_BASE_URL=$$($(call STACK_OUTPUT,EndpointURL) $(API_STACK))scim/v2"

# A revoked credential stays accepted while API Gateway caches the authorizer's allow (60 s, app.py); this ends it now.
.PHONY: flush-auth-cache
API_GATEWAY_STAGE = api
flush-auth-cache: check-stage
	aws apigateway flush-stage-authorizers-cache --stage-name $(API_GATEWAY_STAGE) \
		--rest-api-id "$$($(call STACK_OUTPUT,RestAPIId) $(API_STACK))"
