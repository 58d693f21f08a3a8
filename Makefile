# Everyday targets. `config=FILE` picks the config; BACKEND_MANAGER_HOME moves runtime state.
SHELL := /bin/bash
config ?= dev-config.yaml
BM := node bin/backend-manager.js
DEPS := node_modules/.installed

.PHONY: build
.PHONY: install deps system-deps nginx install-nginx check-nginx verify-nginx test typecheck \
	format format-check backend-manager-start backend-manager-stop backend-manager-restart backend-manager-status \
	backend-manager-plan backend-manager-gen-nginx-conf logs-tail logs-tail-nginx logs-clean \
	simple-start simple-status simple-stop simple-restart simple-logs \
	backend-manager-gen-envoy-conf check-envoy bench dev

$(DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The CLI runs from this build when it is current (fast start-up); bin/ falls back to tsx otherwise.
SOURCES := $(shell find lib scripts -name '*.ts' 2>/dev/null)
dist/.stamp: $(DEPS) $(SOURCES) tsconfig.json tsconfig.build.json
	rm -rf dist
	npx tsc -p tsconfig.build.json
	@touch $@

build: dist/.stamp

deps: $(DEPS) dist/.stamp

# Debian packages the end-to-end tests use (redis-server for the queue-worker stack); needs root.
system-deps:
	@bash scripts/system-deps.sh

install: deps nginx

# The checkout keeps its own nginx in .local/, which every stack started from it (and every test) finds first.
nginx install-nginx: deps
	@$(BM) --home .local install-nginx

check-nginx: deps
	$(BM) check-nginx

verify-nginx: deps
	$(BM) check-nginx --verify

typecheck: $(DEPS)
	npx tsc --noEmit

# The formatter's verdict on every source file; `make format` rewrites them.
FORMATTED := "**/*.{ts,mjs,js}"
format-check: $(DEPS)
	npx prettier --check --log-level warn $(FORMATTED)

format: $(DEPS)
	npx prettier --write --log-level warn $(FORMATTED)

test: install system-deps typecheck format-check
	node --import tsx --test --test-concurrency=2 --test-reporter=spec $(shell find test -name "*.test.ts" | sort)

backend-manager-start: install
	$(BM) start $(config)

# The dev loop in this terminal: a server restarts when its watch: files change; Ctrl+C stops everything.
dev: install
	$(BM) start $(config) --foreground --watch

backend-manager-stop: deps
	$(BM) stop

# Without config=FILE the running stack restarts from the config it was started with.
backend-manager-restart: install
	$(BM) restart $(if $(filter file,$(origin config)),,$(config))

backend-manager-status: deps
	$(BM) status

backend-manager-plan: deps
	$(BM) plan $(config)

backend-manager-gen-nginx-conf: deps
	$(BM) gen-nginx-conf $(config) --validate

# Envoy is not installed by make (no verifiable standalone build); check-envoy says where to get it.
backend-manager-gen-envoy-conf: deps
	$(BM) gen-envoy-conf $(config) --validate

check-envoy: deps
	$(BM) check-envoy

logs-tail: deps
	$(BM) logs -f

logs-tail-nginx: deps
	$(BM) logs nginx -f

logs-clean: deps
	$(BM) logs clean

workers ?= 4
base_port ?= 50051
# proxy=nginx|envoy, protocol=grpc and front_port=F are passed on only when given.
SIMPLE_OPTS = $(if $(proxy),--proxy $(proxy)) $(if $(protocol),--protocol $(protocol)) $(if $(front_port),--port $(front_port))
simple-start: install
	$(BM) simple start --workers $(workers) --base-port $(base_port) $(SIMPLE_OPTS)

# Without workers=N the pool restarts with as many workers as it has.
simple-restart: install
	$(BM) simple restart $(if $(filter file,$(origin workers)),,--workers $(workers))

simple-logs: deps
	$(BM) simple logs -f

simple-status: deps
	$(BM) simple status

simple-stop: deps
	$(BM) simple stop

bench: install
	$(MAKE) -C bench run
