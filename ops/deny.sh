#!/usr/bin/env bash
# Supply-chain check, offline: cargo deny (advisories, licenses, bans,
# sources) against the RustSec snapshot in ../shared/advisory-db (or
# $ADVISORY_DB). cargo-deny reads its database from a git repository under
# db-path, so the snapshot is committed into a throw-away one first.
set -euo pipefail
cd "$(dirname "$0")/.."
SNAPSHOT="${ADVISORY_DB:-../shared/advisory-db}"
[ -d "$SNAPSHOT/crates" ] || { echo "deny: no advisory snapshot at $SNAPSHOT (set ADVISORY_DB)" >&2; exit 1; }
command -v cargo-deny >/dev/null 2>&1 || { echo "deny: cargo-deny is not installed (cargo install cargo-deny --locked)" >&2; exit 1; }
DBS="$(mktemp -d)"
trap 'rm -rf "$DBS"' EXIT
# The directory name cargo-deny derives from the default database URL.
REPO="$DBS/advisory-db-3157b0e258782691"
cp -r "$SNAPSHOT" "$REPO"
git -C "$REPO" init -q
git -C "$REPO" add -A
git -C "$REPO" -c user.name=ci -c user.email=ci@localhost commit -qm snapshot
# Crates of every target (cargo metadata --offline needs them all).
cargo fetch --locked >/dev/null 2>&1 || true
SOWAT_ADVISORY_DBS="$DBS" cargo deny --offline check
