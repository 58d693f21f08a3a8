# Everyday targets. `config=FILE` picks the config; BACKEND_MANAGER_HOME moves runtime state.
SHELL := /bin/bash
config ?= dev-config.yaml
BM := node bin/backend-manager.js
DEPS := node_modules/.installed

.PHONY: build
.PHONY: install deps system-deps nginx install-nginx check-nginx verify-nginx test typecheck \
	backend-manager-start backend-manager-stop backend-manager-restart backend-manager-status \
	backend-manager-plan backend-manager-gen-nginx-conf logs-tail logs-tail-nginx logs-clean \
	simple-start simple-status simple-stop bench

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

nginx install-nginx: deps
	$(BM) install-nginx

check-nginx: deps
	$(BM) check-nginx

verify-nginx: deps
	$(BM) check-nginx --verify

typecheck: $(DEPS)
	npx tsc --noEmit

test: install system-deps typecheck
	node --import tsx --test --test-concurrency=2 --test-reporter=spec test/*.test.ts

backend-manager-start: install
	$(BM) start $(config)

backend-manager-stop: deps
	$(BM) stop

backend-manager-restart: install
	$(BM) restart $(config)

backend-manager-status: deps
	$(BM) status

backend-manager-plan: deps
	$(BM) plan $(config)

backend-manager-gen-nginx-conf: deps
	$(BM) gen-nginx-conf $(config) --validate

logs-tail: deps
	$(BM) logs -f

logs-tail-nginx: deps
	$(BM) logs nginx -f

logs-clean: deps
	$(BM) logs clean

workers ?= 4
base_port ?= 50051
simple-start: install
	$(BM) simple start --workers $(workers) --base-port $(base_port)

simple-status: deps
	$(BM) simple status

simple-stop: deps
	$(BM) simple stop

bench: install
	$(MAKE) -C bench run
