# ctools: build, install, test.
#
#   make                 release build of every tool
#   make man completions man pages and shell completions under target/
#   make install         binaries, man pages, completions (PREFIX, DESTDIR)
#   make uninstall       remove what install put there
#   make deps            the Debian packages the tests and the demo need
#   make test            every test (as root: the privileged ones too)
#   make demo            the main job: the document's tutorial, a full container

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share
# mount(8) looks for helpers in /sbin only.
HELPERDIR  ?= /sbin
CARGO      ?= cargo
# PROFILE=debug installs the debug build (used by the install check).
PROFILE    ?= release
RELEASE    := target/$(PROFILE)
PROFILE_FLAG := $(if $(filter debug,$(PROFILE)),,--profile $(PROFILE))

TOOLS_BIN  := stress-rs cgset unshare-rs mkrootfs
TOOLS_SBIN := chroot-rs unionmount runc-rs
MAN1       := stress-rs.1 cgset.1 unshare-rs.1 mkrootfs.1 contain.1
MAN8       := chroot-rs.8 unionmount.8 runc-rs.8
MAN7       := ctools.7
ALL_TOOLS  := $(TOOLS_BIN) $(TOOLS_SBIN)

DEPS := build-essential mandoc stress cgroup-tools hyperfine pax-utils \
	qemu-system-x86 cpio busybox-static fuse-overlayfs unionfs-fuse \
	e2fsprogs bubblewrap runc util-linux iproute2 procps python3 \
	psmisc kmod uidmap xz-utils passwd jq attr tar gzip zstd umoci skopeo coreutils \
	perl mount hostname dpkg-dev bash-builtins containernetworking-plugins iptables podman containerd \
	slirp4netns socat

.PHONY: all build man completions install uninstall test demo deps lint

all: build

build:
	$(CARGO) build $(PROFILE_FLAG) --workspace

man:
	$(CARGO) xtask man --out target/man

completions:
	$(CARGO) xtask completions --out target/completions

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) xtask lint-man --out target/man

# contain's files, one per concern, read by its front script (contain/contain)
CONTAIN_LIBS = common store run runmore chain containers output images build registry net runtime runtimemore template cp volumes admin events logs

install: build man completions
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions \
		$(DESTDIR)$(DATADIR)/zsh/site-functions \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	for t in $(TOOLS_BIN); do install -m 755 $(RELEASE)/$$t $(DESTDIR)$(BINDIR)/$$t; done
	for t in $(TOOLS_SBIN); do install -m 755 $(RELEASE)/$$t $(DESTDIR)$(SBINDIR)/$$t; done
	install -m 755 contain/contain $(DESTDIR)$(BINDIR)/contain
	install -d $(DESTDIR)$(HELPERDIR)
	ln -sf $(SBINDIR)/unionmount $(DESTDIR)$(HELPERDIR)/mount.unionmount
	ln -sf $(SBINDIR)/unionmount $(DESTDIR)$(HELPERDIR)/mount.fuse.unionmount
	for p in $(MAN1); do install -m 644 target/man/$$p $(DESTDIR)$(MANDIR)/man1/$$p; done
	for p in $(MAN8); do install -m 644 target/man/$$p $(DESTDIR)$(MANDIR)/man8/$$p; done
	for p in $(MAN7); do install -m 644 target/man/$$p $(DESTDIR)$(MANDIR)/man7/$$p; done
	install -m 644 contain/contain.bash-completion $(DESTDIR)$(DATADIR)/bash-completion/completions/contain
	install -d $(DESTDIR)$(DATADIR)/ctools
	install -m 644 ctcore/data/seccomp-default.json $(DESTDIR)$(DATADIR)/ctools/seccomp-default.json
	for f in $(CONTAIN_LIBS); do install -m 644 contain/$$f.sh $(DESTDIR)$(DATADIR)/ctools/contain-$$f.sh; done
	for t in $(ALL_TOOLS); do \
		install -m 644 target/completions/bash/$$t.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/$$t; \
		install -m 644 target/completions/zsh/_$$t $(DESTDIR)$(DATADIR)/zsh/site-functions/_$$t; \
		install -m 644 target/completions/fish/$$t.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/$$t.fish; \
	done

uninstall:
	# the default network's bridge contain0 and rules, as a person following the tutorial
	# by hand made them (not for a staged DESTDIR)
	-[ -n "$(DESTDIR)" ] || [ ! -x $(BINDIR)/contain ] || [ "$$(id -u)" != 0 ] || \
		$(BINDIR)/contain network prune -f >/dev/null 2>&1
	for t in $(TOOLS_BIN) contain; do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	for t in $(TOOLS_SBIN); do rm -f $(DESTDIR)$(SBINDIR)/$$t; done
	rm -f $(DESTDIR)$(HELPERDIR)/mount.unionmount $(DESTDIR)$(HELPERDIR)/mount.fuse.unionmount
	for p in $(MAN1); do rm -f $(DESTDIR)$(MANDIR)/man1/$$p; done
	for p in $(MAN8); do rm -f $(DESTDIR)$(MANDIR)/man8/$$p; done
	for p in $(MAN7); do rm -f $(DESTDIR)$(MANDIR)/man7/$$p; done
	rm -f $(DESTDIR)$(DATADIR)/bash-completion/completions/contain
	rm -f $(DESTDIR)$(DATADIR)/ctools/seccomp-default.json
	for f in $(CONTAIN_LIBS); do rm -f $(DESTDIR)$(DATADIR)/ctools/contain-$$f.sh; done
	-rmdir $(DESTDIR)$(DATADIR)/ctools 2>/dev/null
	for t in $(ALL_TOOLS); do \
		rm -f $(DESTDIR)$(DATADIR)/bash-completion/completions/$$t \
		      $(DESTDIR)$(DATADIR)/zsh/site-functions/_$$t \
		      $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/$$t.fish; \
	done

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEPS)
	tests/vm/fetch-kernel.sh

test:
	scripts/test-all.sh

demo:
	scripts/demo.sh
