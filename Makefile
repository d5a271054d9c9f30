# Two commands: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test setup vendor clean

run: setup
	$(PY) -m saas.launcher

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

VENDOR := static/vendor/.installed

setup: $(STAMP) $(VENDOR)

vendor: $(VENDOR)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# Front-end libraries from the npm registry (package-lock.json pins them); ECharts is its common build.
$(VENDOR): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/echarts/dist/echarts.common.min.js static/vendor/echarts.min.js
	touch $@

clean:
	rm -rf $(VENV) node_modules static/vendor instance
