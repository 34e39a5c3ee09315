# eni-agent: build, test, demo, package, bench. What each needs is installed by its deps target.
SWIFT       ?= swift
BIN_DEBUG   := .build/debug/eni-agent
BIN_RELEASE := .build/release/eni-agent
SIM_DEBUG   := .build/debug/eni-metadata-sim
VERSION     := $(shell sed -n 's/^public let eniAgentVersion = "\(.*\)"$$/\1/p' Sources/ENIAgent/Version.swift)
DEB_ARCH     = $(shell dpkg --print-architecture)
RPM_ARCH     = $(shell uname -m)
DEB          = dist/eni-agent_$(VERSION)_$(DEB_ARCH).deb
RPM          = dist/eni-agent-$(VERSION)-1.$(RPM_ARCH).rpm
MANPAGE     := .build/plugins/GenerateManual/outputs/eni-agent/eni-agent.8

# The release build that the packages ship: the Swift standard library, libstdc++ and libgcc linked
# in, so that the binary needs only libnl-3, libnl-route-3, libcurl and glibc. swiftc's static-stdlib
# link line names -lstdc++, so a directory holding only libstdc++.a is searched first; no $ORIGIN
# rpath; bind now (full RELRO).
STATIC_LIBS   := .build/static-libs
RELEASE_FLAGS := -c release --static-swift-stdlib --disable-local-rpath \
	-Xlinker -L$(CURDIR)/$(STATIC_LIBS) -Xswiftc -Xclang-linker -Xswiftc -static-libgcc \
	-Xlinker -z -Xlinker now

# Debian packages the build and tests need: libnl-3 and libcurl headers (netlink, HTTP),
# pkg-config (to find them), iproute2 and iputils-ping (test set-up and reachability checks),
# util-linux (flock), python3 (JSON edits in the integration tests), curl (the tests' calls to the
# metadata simulator's control endpoints; the agent itself uses libcurl), systemd (systemd-analyze
# checks the unit file), dbus-daemon (a private bus for the D-Bus client's tests, with a fake
# NetworkManager on it), nftables (the IPv6 lab router's strict source check) and radvd (its router
# advertisements).
APT_PACKAGES := libnl-3-dev libnl-route-3-dev libcurl4-openssl-dev pkg-config iproute2 iputils-ping util-linux python3 curl systemd dbus-daemon nftables radvd
# The release build also needs g++ (libstdc++.a) and binutils (strip, readelf); building and
# checking the packages dpkg-dev (dpkg-shlibdeps), rpm (rpmbuild), lintian, rpmlint, man-db
# (lintian's man page check) and debootstrap (the install test's Debian root).
RELEASE_APT_PACKAGES := g++ binutils
PACKAGE_APT_PACKAGES := dpkg-dev rpm lintian rpmlint man-db debootstrap
# The benchmark's tools: hyperfine (timings), strace (counting the no-op pass's writes).
BENCH_APT_PACKAGES := hyperfine strace
# The VM lab (Tests/vm): QEMU (software emulation), debootstrap (the guest's Debian root), e2fsprogs
# (mkfs.ext4 -d makes its disk without a loop mount), python3 (QMP and guest-agent client), dnsmasq
# (the VPC's DHCP), nftables and radvd (its IPv6: strict source check, router advertisements).
VM_APT_PACKAGES := qemu-system-x86 debootstrap e2fsprogs python3 iproute2 iputils-ping curl util-linux dnsmasq-base nftables radvd

.PHONY: all deps release-deps package-deps apt-install build release man package package-test vm-test bench test unit-test integration-test fuzz fuzz-smoke demo clean

all: build

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

release-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(RELEASE_APT_PACKAGES)"

package-deps: release-deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(PACKAGE_APT_PACKAGES)"

apt-install:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
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

release: release-deps
	@lib=$$(g++ -print-file-name=libstdc++.a); case "$$lib" in /*) ;; *) echo "libstdc++.a not found (g++ -print-file-name)" >&2; exit 1;; esac; \
	mkdir -p $(STATIC_LIBS) && ln -sfn "$$lib" $(STATIC_LIBS)/libstdc++.a
	$(SWIFT) build $(RELEASE_FLAGS)

# The man page, generated from the CLI's definitions by swift-argument-parser's plugin (the debug
# build has the same CLI; the plugin's own release build would relink the packaged binary).
man: build
	$(SWIFT) package --allow-writing-to-package-directory generate-manual --configuration debug \
		--section 8 --date "$$(date -u -d @$$(python3 packaging/changelog.py CHANGELOG.md epoch) +%F)" \
		--authors "eni-agent maintainers<eni-agent@lists.example.org>"

package: package-deps release man
	bash packaging/build.sh $(BIN_RELEASE) $(MANPAGE) dist

# Hot-attach latency, apply cost against ip -batch and one ip per object, the no-op pass, footprint
# and churn, in throwaway namespaces (bench/bench.py); writes bench/results.json, docs/benchmarks.md.
bench: release
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(BENCH_APT_PACKAGES)"
	python3 bench/bench.py --bin $(BIN_RELEASE) --sim .build/release/eni-metadata-sim --out bench/results.json --doc docs/benchmarks.md

# lintian, rpmlint, rpm -qlp/-qRp, and an install/run/removal test in a debootstrapped Debian root.
package-test: package build
	bash Tests/integration/packages.sh $(DEB) $(RPM) $(SIM_DEBUG)

# The packaged agent under systemd in a QEMU guest, ENIs hot-plugged over QMP (Tests/vm/README.md).
# The guest's base root is cached in .build-vm/ keyed by its inputs.
vm-test: package build
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(VM_APT_PACKAGES)"
	timeout --foreground 1200 bash Tests/vm/run.sh $(DEB) $(SIM_DEBUG)
	timeout --foreground 900 bash Tests/vm/clouds.sh $(DEB) $(SIM_DEBUG)
	timeout --foreground 900 bash Tests/vm/nm.sh $(DEB) $(SIM_DEBUG)

test: unit-test integration-test

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

integration-test: build
	bash Tests/integration/run.sh $(BIN_DEBUG)
	bash Tests/integration/ipv6.sh $(BIN_DEBUG) $(SIM_DEBUG)
	bash Tests/integration/providers.sh $(BIN_DEBUG) $(SIM_DEBUG)
	bash Tests/integration/daemon.sh $(BIN_DEBUG) $(SIM_DEBUG)
	bash Tests/integration/systemd.sh $(BIN_DEBUG)
	bash Tests/integration/crash.sh $(BIN_DEBUG)

# libFuzzer + AddressSanitizer targets for the parsers of outside input (Fuzz/README.md), built with
# swiftc -sanitize=fuzzer,address outside SwiftPM into .build-fuzz/; the toolchain is all they need.
# Each target runs for a fixed number of executions and the run prints executions and time per target.
FUZZ_RUNS       ?= 1000000
FUZZ_SMOKE_RUNS ?= 20000

fuzz:
	bash Fuzz/run.sh $(FUZZ_RUNS)

fuzz-smoke:
	bash Fuzz/run.sh $(FUZZ_SMOKE_RUNS)

demo: build
	bash scripts/demo.sh $(BIN_DEBUG) $(SIM_DEBUG)

clean:
	rm -rf .build .build-fuzz dist
