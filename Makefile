# eni-agent: build, test, demo. Everything the build and the tests need is installed by `deps`.
SWIFT       ?= swift
BIN_DEBUG   := .build/debug/eni-agent
BIN_RELEASE := .build/release/eni-agent
SIM_DEBUG   := .build/debug/eni-metadata-sim

# Debian packages the build and tests need: libnl-3 and libcurl headers (netlink, HTTP),
# pkg-config (to find them), iproute2 and iputils-ping (test set-up and reachability checks),
# util-linux (flock), python3 (JSON edits in the integration tests), curl (the tests' calls to the
# metadata simulator's control endpoints; the agent itself uses libcurl), systemd (systemd-analyze
# checks the unit file).
APT_PACKAGES := libnl-3-dev libnl-route-3-dev libcurl4-openssl-dev pkg-config iproute2 iputils-ping util-linux python3 curl systemd

.PHONY: all deps build release test unit-test integration-test demo clean

all: build

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:" $$missing; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "missing Debian packages (install as root): $$missing" >&2; exit 1; \
		fi; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --static-swift-stdlib

test: unit-test integration-test

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

integration-test: build
	bash Tests/integration/run.sh $(BIN_DEBUG)
	bash Tests/integration/providers.sh $(BIN_DEBUG) $(SIM_DEBUG)
	bash Tests/integration/daemon.sh $(BIN_DEBUG) $(SIM_DEBUG)
	bash Tests/integration/systemd.sh $(BIN_DEBUG)

demo: build
	bash scripts/demo.sh $(BIN_DEBUG) $(SIM_DEBUG)

clean:
	rm -rf .build
