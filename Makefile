# Everyday targets. `config=FILE` picks the config; BACKEND_MANAGER_HOME moves runtime state.
SHELL := /bin/bash
config ?= dev-config.yaml
BM := node bin/backend-manager.js
DEPS := node_modules/.installed

.PHONY: install deps system-deps nginx install-nginx check-nginx verify-nginx test typecheck \
	backend-manager-start backend-manager-stop backend-manager-restart backend-manager-status \
	backend-manager-plan backend-manager-gen-nginx-conf logs-tail logs-tail-nginx logs-clean \
	simple-start simple-status simple-stop bench

$(DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(DEPS)

# Debian packages the end-to-end tests use (redis-server for the queue-worker stack); needs root.
system-deps:
	@bash scripts/system-deps.sh

install: deps nginx

nginx install-nginx: $(DEPS)
	$(BM) install-nginx

check-nginx: $(DEPS)
	$(BM) check-nginx

verify-nginx: $(DEPS)
	$(BM) check-nginx --verify

typecheck: $(DEPS)
	npx tsc --noEmit

test: install system-deps typecheck
	node --import tsx --test --test-concurrency=2 --test-reporter=spec test/*.test.ts

backend-manager-start: install
	$(BM) start $(config)

backend-manager-stop: $(DEPS)
	$(BM) stop

backend-manager-restart: install
	$(BM) restart $(config)

backend-manager-status: $(DEPS)
	$(BM) status

backend-manager-plan: $(DEPS)
	$(BM) plan $(config)

backend-manager-gen-nginx-conf: $(DEPS)
	$(BM) gen-nginx-conf $(config) --validate

logs-tail: $(DEPS)
	$(BM) logs -f

logs-tail-nginx: $(DEPS)
	$(BM) logs nginx -f

logs-clean: $(DEPS)
	$(BM) logs clean

workers ?= 4
base_port ?= 50051
simple-start: install
	$(BM) simple start --workers $(workers) --base-port $(base_port)

simple-status: $(DEPS)
	$(BM) simple status

simple-stop: $(DEPS)
	$(BM) simple stop

bench: install
	$(MAKE) -C bench run
