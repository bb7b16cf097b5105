#!/usr/bin/env bash
# The main job: build the tools, then run the document's whole story with
# them: every tutorial experiment in order, ending with a full container on
# an image built from this machine's own binaries (no download).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace
export PATH=$PWD/target/release:$PWD/contain:$PATH
exec tutorial/run-all "$@"
