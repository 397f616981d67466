#!/usr/bin/env bash
# Offline checks of the Terraform code (no provider download, no Azure):
#   1. terraform fmt -check -recursive terraform
#   2. ../shared/tools/tfschema/tf-schema-check terraform   (argument names against the real provider schemas)
#   3. terraform test in every module with tests/*.tftest.hcl and no provider (built-in functions only, offline:
#      e.g. modules/naming, every Azure name limit for the longest names allowed).
#   4. checkov (pinned, private venv) over terraform/, zero failed checks; skips live next to the resource as
#      `#checkov:skip=CKV_...:reason`.
# Run from the repository root. Needs terraform on PATH (or /usr/local/bin), python3 with venv/pip, and PyPI.
set -euo pipefail

CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TERRAFORM="$(command -v terraform || true)"
TERRAFORM="${TERRAFORM:-/usr/local/bin/terraform}"
[ -x "$TERRAFORM" ] || { echo "check-terraform: terraform not found (PATH or /usr/local/bin)" >&2; exit 2; }

SCHEMA_CHECK="$ROOT/../shared/tools/tfschema/tf-schema-check"
[ -x "$SCHEMA_CHECK" ] || { echo "check-terraform: $SCHEMA_CHECK not found (shared/ must sit beside the repository)" >&2; exit 2; }

VENV="${XDG_CACHE_HOME:-$HOME/.cache}/nightshift-ci/checkov"
CHECKOV="$VENV/bin/checkov"

report="$(mktemp -d)"
trap 'rm -rf "$report"' EXIT

# terraform warns when its CLI config file is missing; an empty one keeps the output clean.
if [ ! -e "${TF_CLI_CONFIG_FILE:-$HOME/.terraformrc}" ]; then
  : >"$report/terraformrc"
  export TF_CLI_CONFIG_FILE="$report/terraformrc"
fi
export TF_IN_AUTOMATION=1

echo "== terraform fmt -check -recursive terraform"
if ! "$TERRAFORM" fmt -check -recursive -diff terraform; then
  echo "check-terraform: run 'terraform fmt -recursive terraform'" >&2
  exit 1
fi
fmt_files="$(find terraform -name '*.tf' -not -path '*/.terraform/*' | wc -l | tr -d ' ')"

echo "== tf-schema-check terraform"
schema_out="$("$SCHEMA_CHECK" terraform)" || { echo "$schema_out"; exit 1; }
echo "$schema_out" | tail -n 1

echo "== terraform test (provider-free modules)"
tested=0
for tests in $(find terraform -path '*/.terraform' -prune -o -type d -name tests -print | sort); do
  module="$(dirname "$tests")"
  ls "$tests"/*.tftest.hcl >/dev/null 2>&1 || continue
  work="$report/tftest-$tested"
  cp -r "$module" "$work"
  ( cd "$work" && "$TERRAFORM" init -backend=false -input=false >/dev/null && "$TERRAFORM" test -no-color ) || {
    echo "check-terraform: terraform test failed in $module" >&2
    exit 1
  }
  tested=$((tested + 1))
done
[ "$tested" -gt 0 ] || { echo "check-terraform: no terraform test found (terraform/modules/naming/tests)" >&2; exit 1; }

echo "== checkov $CHECKOV_VERSION"
installed="$("$CHECKOV" --version 2>/dev/null || true)"
if [ "$installed" != "$CHECKOV_VERSION" ]; then
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >&2
fi

# --skip-download: no policy download from the Prisma Cloud API; BC_API_KEY unset keeps it fully offline.
# The report goes to a file: --quiet prints only failures, the JSON gives the counts.
set +e
env -u BC_API_KEY -u PRISMA_API_URL LOG_LEVEL=ERROR CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
  "$CHECKOV" --directory terraform --framework terraform --quiet --compact --skip-download \
  --download-external-modules false --output cli --output json --output-file-path "console,$report/results_json.json" \
  ${CHECKOV_CONFIG:+--config-file "$CHECKOV_CONFIG"}
checkov_rc=$?
set -e

counts="$(python3 - "$report" <<'PY'
import json, pathlib, sys
files = list(pathlib.Path(sys.argv[1]).glob("*.json"))
if not files:
    print("0 0 0"); sys.exit(0)
data = json.loads(files[0].read_text())
reports = data if isinstance(data, list) else [data]
p = f = s = 0
for r in reports:
    summary = r.get("summary", {})
    p += summary.get("passed", 0); f += summary.get("failed", 0); s += summary.get("skipped", 0)
print(p, f, s)
PY
)"
read -r passed failed skipped <<<"$counts"

if [ "$checkov_rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
  echo "check-terraform: FAILED: checkov: $failed failed, $passed passed, $skipped skipped (exit $checkov_rc)" >&2
  exit 1
fi
echo "check-terraform: OK: fmt clean ($fmt_files files), schema 0 errors, terraform test in $tested module(s), checkov $passed passed, 0 failed, $skipped skipped"
