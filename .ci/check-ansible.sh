#!/usr/bin/env bash
# Checks the seeds: syntax and production lint of every playbook, then the local demo end to end.
#
# Run from anywhere in the checkout (it cds to the root). Needs python3 with venv (and network to PyPI the first
# time); terraform is optional (with it, the local stacks run too). Environment:
#   XDG_CACHE_HOME            venvs go to ${XDG_CACHE_HOME:-$HOME/.cache}/nightshift-ci/
#   CHECK_ANSIBLE_KEEP_TMP=1  keep the scratch directory (databases, logs) for inspection
set -euo pipefail

ANSIBLE_VERSION=12.3.0        # the community package: ansible-core 2.19 + community.general, community.mongodb, azure.azcollection
ANSIBLE_LINT_VERSION=26.10.1
ANSIBLE_CORE_VERSION=2.19.14  # the local demo must work with ansible-core alone

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/nightshift-ci"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/check-ansible.XXXXXX")
PASSED=0
CURRENT=setup

cleanup() {
  local rc=$?
  if [[ -n "${STUB_PID:-}" ]]; then kill "$STUB_PID" 2>/dev/null || true; fi
  if [[ $rc -ne 0 ]]; then
    echo "FAIL $CURRENT (logs in $TMP)" >&2
    echo "check-ansible: $PASSED passed, 1 failed"
  elif [[ "${CHECK_ANSIBLE_KEEP_TMP:-}" != 1 ]]; then
    rm -rf "$TMP"
  fi
  exit $rc
}
trap cleanup EXIT

check() { CURRENT=$1; echo "--- $1"; }
ok() { PASSED=$((PASSED + 1)); echo "ok   $CURRENT${1:+: $1}"; }

# venv DIR SPEC...: create or reuse a venv holding exactly these pinned packages.
venv() {
  local dir=$1; shift
  local want="$*"
  if [[ -x "$dir/bin/python" && -f "$dir/.pins" && "$(cat "$dir/.pins")" == "$want" ]]; then
    return 0
  fi
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  if ! python3 -m venv "$dir" 2>"$TMP/venv.err"; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then  # Debian ships venv separately
      apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$dir"
    else
      cat "$TMP/venv.err" >&2
      echo "python3 -m venv failed: install python3-venv" >&2
      return 1
    fi
  fi
  "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  echo "$want" >"$dir/.pins"
}

# recap_changed LOG: the changed= count of the PLAY RECAP of an ansible-playbook log.
recap_changed() { grep -E '^localhost +: ' "$1" | grep -oE 'changed=[0-9]+' | cut -d= -f2; }

# seed PLAYBOOK DB TIERS_JSON LOG: run a demo playbook with ansible-core only, fail on a failed task.
seed() {
  local playbook=$1 db=$2 tiers=$3 log=$4
  "$CORE/bin/ansible-playbook" -i localhost, "$playbook" \
    -e "{\"database_path\": \"$db\", \"nightshift_data_tiers\": $tiers, \"nightshift_environment\": \"ci\"}" \
    >"$log" 2>&1 || { tail -30 "$log" >&2; return 1; }
}

export PYTHONDONTWRITEBYTECODE=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0

check "tools: pinned ansible $ANSIBLE_VERSION, ansible-lint $ANSIBLE_LINT_VERSION, ansible-core $ANSIBLE_CORE_VERSION"
FULL="$CACHE/ansible"
CORE="$CACHE/ansible-core"
venv "$FULL" "ansible==$ANSIBLE_VERSION" "ansible-lint==$ANSIBLE_LINT_VERSION"
venv "$CORE" "ansible-core==$ANSIBLE_CORE_VERSION"
"$FULL/bin/ansible-playbook" --version >/dev/null
"$FULL/bin/ansible-lint" --version >/dev/null
ok "$("$FULL/bin/ansible-lint" --version 2>/dev/null | head -1 | tr -s ' ')"

check "python sources compile"
python3 -c 'import ast, sys; [ast.parse(open(f, encoding="utf-8").read(), f) for f in sys.argv[1:]]' \
  seeds/orthense-demo/data/generate.py seeds/orthense-demo/smoke.py seeds/orthense-demo/library/orthense_sqlite_dataset.py \
  seeds/orthense/smoke.py seeds/vao-demo/smoke.py seeds/vao-demo/library/vao_sql_scripts.py
ok

check "azure smoke.py against a local HTTP stub (healthy, 500, flaky, slow, misconfigured)"
# The stub: /ok/... answers 200, /broken/... 500, /flaky/... 503 on the first request then 200, /slow/... 200 after
# 3 s. It listens on 127.0.0.1 on a free port, written to $TMP/stub.port.
python3 - "$TMP/stub.port" >"$TMP/stub.log" 2>&1 <<'PY' &
import http.server, sys, time
seen = set()
class Stub(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = 200, b'{"status": "Healthy"}'
        if self.path.startswith("/broken/"):
            status, body = 500, b"Internal Server Error: database unreachable"
        elif self.path.startswith("/flaky/") and self.path not in seen:
            seen.add(self.path)
            status, body = 503, b"warming up"
        elif self.path.startswith("/slow/"):
            time.sleep(3)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
PY
STUB_PID=$!
for _ in $(seq 50); do [[ -s "$TMP/stub.port" ]] && break; sleep 0.1; done
[[ -s "$TMP/stub.port" ]] || { cat "$TMP/stub.log" >&2; echo "the HTTP stub did not start" >&2; exit 1; }
STUB="http://127.0.0.1:$(cat "$TMP/stub.port")"
# expect_smoke NAME WANT_RC MEDICAL ACCOUNTS SPA_ORIGINS PATTERN... [-- ENV=VALUE...]: run smoke.py (output in
# $TMP/azsmoke-NAME.log, outputs in $TMP/azsmoke-NAME.json), check its exit code and that each pattern matches a line.
expect_smoke() {
  local name=$1 want=$2 medical=$3 accounts=$4 spas=$5 got=0 patterns=() extra=()
  shift 5
  while [[ $# -gt 0 && $1 != -- ]]; do patterns+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift && extra=("$@")
  env -u NIGHTSHIFT_OUTPUTS_FILE MEDICAL_API_URL="$medical" ACCOUNTS_API_URL="$accounts" SPA_ORIGINS="$spas" \
    SMOKE_TIMEOUT=1 SMOKE_ATTEMPTS=2 SMOKE_RETRY_DELAY=0 NIGHTSHIFT_OUTPUTS_FILE="$TMP/azsmoke-$name.json" "${extra[@]}" \
    python3 seeds/orthense/smoke.py >"$TMP/azsmoke-$name.log" 2>&1 || got=$?
  [[ $got -eq $want ]] || { cat "$TMP/azsmoke-$name.log" >&2; echo "smoke.py ($name): exit $got, expected $want" >&2; return 1; }
  for pattern in "${patterns[@]}"; do
    grep -qE "$pattern" "$TMP/azsmoke-$name.log" \
      || { cat "$TMP/azsmoke-$name.log" >&2; echo "smoke.py ($name): no line matches /$pattern/" >&2; return 1; }
  done
}
expect_smoke healthy 0 "$STUB/ok/medical" "$STUB/ok/accounts/" "[\"$STUB/ok/pro\", \"$STUB/ok/patient\", \"$STUB/ok/backoffice\"]" \
  "^ok   medical API health: GET $STUB/ok/medical/health -> 200" "^ok   accounts API health: GET $STUB/ok/accounts/health -> 200" \
  "^ok   SPA 127\.0\.0\.1:[0-9]+: GET $STUB/ok/backoffice/ -> 200" "^smoke: 5 passed, 0 failed$"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["healthy"] == "true" and d["spa_count"] == 3 and d["accounts_api_health_status"] == 200, d' \
  "$TMP/azsmoke-healthy.json"
expect_smoke error500 1 "$STUB/ok/medical" "$STUB/broken/accounts" "$STUB/ok/pro,$STUB/ok/patient" \
  "^FAIL accounts API health: GET $STUB/broken/accounts/health -> HTTP 500 'Internal Server Error: database unreachable' \(after 2 attempts\)" \
  "^ok   medical API health" "^smoke: 3 passed, 1 failed$"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["healthy"] == "false" and d["accounts_api_health_status"] == 500, d' \
  "$TMP/azsmoke-error500.json"
expect_smoke flaky 0 "$STUB/flaky/medical" "$STUB/ok/accounts" "[\"$STUB/ok/pro\"]" "^ok   medical API health: .* -> 200 in [0-9.]+s, attempt 2/2$"
expect_smoke slow 1 "$STUB/ok/medical" "$STUB/ok/accounts" "[\"$STUB/slow/pro\"]" \
  "^FAIL SPA 127\.0\.0\.1:[0-9]+: GET $STUB/slow/pro/ -> no answer within 1s \(after 1 attempt\)" -- SMOKE_ATTEMPTS=1
expect_smoke unset 2 "$STUB/ok/medical" "" "[\"$STUB/ok/pro\"]" "^FAIL config: ACCOUNTS_API_URL is not set"
[[ ! -e "$TMP/azsmoke-unset.json" ]] || { echo "smoke.py wrote outputs although misconfigured" >&2; exit 1; }
kill "$STUB_PID"; wait "$STUB_PID" 2>/dev/null || true; STUB_PID=
ok "5 runs: healthy -> 0, a 500 -> 1, a 503 then 200 -> 0 (retried), a timeout -> 1, a missing URL -> 2"

check "generated datasets are up to date"
python3 seeds/orthense-demo/data/generate.py --output "$TMP/regen" >/dev/null
diff -r "$TMP/regen/reference" seeds/orthense-demo/data/reference
diff -r "$TMP/regen/test" seeds/orthense-demo/data/test
python3 seeds/orthense-demo/data/generate.py --check >/dev/null
ok "$(find seeds/orthense-demo/data -name '*.json' | wc -l) files identical after regeneration"

check "ansible-playbook --syntax-check"
mapfile -t PLAYBOOKS < <(find seeds -name '*.yml' -not -path '*/roles/*' -not -path '*/data/*' -print0 \
  | xargs -0 grep -lE '^[- ] +hosts:|^- hosts:' | sort)
[[ ${#PLAYBOOKS[@]} -gt 0 ]] || { echo "no playbook found under seeds/" >&2; exit 1; }
for playbook in "${PLAYBOOKS[@]}"; do
  "$FULL/bin/ansible-playbook" -i localhost, --syntax-check "$playbook" >"$TMP/syntax.log" 2>&1 \
    || { cat "$TMP/syntax.log" >&2; exit 1; }
done
ok "${#PLAYBOOKS[@]} playbooks: ${PLAYBOOKS[*]}"

check "ansible-lint --profile production seeds/"
PATH="$FULL/bin:$PATH" "$FULL/bin/ansible-lint" --profile production --nocolor seeds/ >"$TMP/lint.log" 2>&1 || { cat "$TMP/lint.log" >&2; exit 1; }
ok "$(grep -E '^Passed' "$TMP/lint.log" | head -1)"

check "local demo: seed [reference, test] twice with ansible-core only"
mkdir -p "$TMP/rg-demo"
MONGO_DB="$TMP/rg-demo/orthense-medical.sqlite"
SQL_DB="$TMP/rg-demo/orthense-accounts.sqlite"
for store in mongo sql; do
  db=$MONGO_DB; [[ $store == sql ]] && db=$SQL_DB
  seed "seeds/orthense-demo/seed-$store.yml" "$db" '["reference", "test"]' "$TMP/$store-1.log"
  seed "seeds/orthense-demo/seed-$store.yml" "$db" '["reference", "test"]' "$TMP/$store-2.log"
  first=$(recap_changed "$TMP/$store-1.log") second=$(recap_changed "$TMP/$store-2.log")
  [[ $first -gt 0 ]] || { echo "seed-$store: first run changed nothing" >&2; exit 1; }
  [[ $second -eq 0 ]] || { echo "seed-$store: second run reported changed=$second, expected 0" >&2; tail -30 "$TMP/$store-2.log" >&2; exit 1; }
done
ok "first runs changed, second runs changed=0"

check "local demo: smoke check"
MONGO_DATABASE=$MONGO_DB SQL_DATABASE=$SQL_DB SMOKE_EXPECT_TEST_DATA=true NIGHTSHIFT_OUTPUTS_FILE="$TMP/smoke-outputs.json" \
  python3 seeds/orthense-demo/smoke.py | tee "$TMP/smoke.log"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["test_data_loaded"] is True, d' "$TMP/smoke-outputs.json"
ok "$(tail -1 "$TMP/smoke.log")"

check "local demo: an updated record is reported as a change"
python3 - "$SQL_DB" <<'PY'
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as conn:
    conn.execute("UPDATE roles SET label = 'tampered' WHERE code = 'patient'")
PY
seed seeds/orthense-demo/seed-sql.yml "$SQL_DB" '["reference"]' "$TMP/sql-3.log"
[[ $(recap_changed "$TMP/sql-3.log") -eq 1 ]] || { echo "a tampered row was not restored as a change" >&2; exit 1; }
grep -q '1 updated' "$TMP/sql-3.log" || { echo "expected '1 updated' in the report" >&2; exit 1; }
ok "restored, changed=1"

check "local demo: persistent-style run loads no test data"
mkdir -p "$TMP/rg-persistent"
P_MONGO="$TMP/rg-persistent/orthense-medical.sqlite"
P_SQL="$TMP/rg-persistent/orthense-accounts.sqlite"
seed seeds/orthense-demo/seed-mongo.yml "$P_MONGO" '["reference"]' "$TMP/p-mongo.log"
seed seeds/orthense-demo/seed-sql.yml "$P_SQL" '["reference"]' "$TMP/p-sql.log"
MONGO_DATABASE=$P_MONGO SQL_DATABASE=$P_SQL SMOKE_EXPECT_TEST_DATA=false python3 seeds/orthense-demo/smoke.py | tee "$TMP/p-smoke.log"
python3 - "$P_MONGO" "$P_SQL" <<'PY'
import sqlite3, sys
test_tables = {"care_plans", "consultations", "prescriptions", "organisations", "practitioners",
               "patient_accounts", "account_roles", "backoffice_users"}
for path in sys.argv[1:]:
    with sqlite3.connect(path) as conn:
        found = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} & test_tables
        assert not found, f"{path}: test-tier tables present: {sorted(found)}"
PY
ok "reference only"

check "local demo: a missing resource group fails clearly"
if "$CORE/bin/ansible-playbook" -i localhost, seeds/orthense-demo/seed-sql.yml \
  -e "{\"database_path\": \"$TMP/swept-rg/db.sqlite\", \"nightshift_data_tiers\": [\"reference\"]}" >"$TMP/swept.log" 2>&1; then
  echo "seeding into a missing resource group succeeded" >&2; exit 1
fi
grep -q 'swept' "$TMP/swept.log" || { tail -20 "$TMP/swept.log" >&2; exit 1; }
ok

check "vao-demo: referentiel then jeux-de-test twice, smoke, an edited row restored"
mkdir -p "$TMP/rg-vao"
VAO_DB="$TMP/rg-vao/vao.sqlite"
: >"$VAO_DB"
if PG_DATABASE=$VAO_DB python3 seeds/vao-demo/smoke.py >"$TMP/vao-early.log"; then
  echo "vao-demo smoke passed before the reference data was loaded" >&2; exit 1
fi
grep -q 'referentiel' "$TMP/vao-early.log" || { cat "$TMP/vao-early.log" >&2; exit 1; }
for round in 1 2; do
  seed seeds/vao-demo/referentiel.yml "$VAO_DB" '["reference"]' "$TMP/vao-ref-$round.log"
  seed seeds/vao-demo/jeux-de-test.yml "$VAO_DB" '["test"]' "$TMP/vao-test-$round.log"
done
[[ $(recap_changed "$TMP/vao-ref-1.log") -gt 0 && $(recap_changed "$TMP/vao-test-1.log") -gt 0 ]] \
  || { echo "vao-demo: a first seed run changed nothing" >&2; exit 1; }
[[ $(recap_changed "$TMP/vao-ref-2.log") -eq 0 && $(recap_changed "$TMP/vao-test-2.log") -eq 0 ]] \
  || { echo "vao-demo: a second seed run reported changes" >&2; exit 1; }
python3 - "$VAO_DB" <<'PY'
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as conn:
    conn.execute("UPDATE regions SET libelle = 'tampered' WHERE code = '53'")
PY
seed seeds/vao-demo/referentiel.yml "$VAO_DB" '["reference"]' "$TMP/vao-ref-3.log"
[[ $(recap_changed "$TMP/vao-ref-3.log") -eq 1 ]] && grep -q '1 rows changed' "$TMP/vao-ref-3.log" \
  || { tail -20 "$TMP/vao-ref-3.log" >&2; echo "vao-demo: a tampered row was not restored as one change" >&2; exit 1; }
PG_DATABASE=$VAO_DB SMOKE_EXPECT_TEST_DATA=pull-request python3 seeds/vao-demo/smoke.py >"$TMP/vao-smoke.log"
grep -q "^ok   test data loaded" "$TMP/vao-smoke.log" || { cat "$TMP/vao-smoke.log" >&2; exit 1; }
ok "$(tail -1 "$TMP/vao-smoke.log")"

check "vao-demo: a persistent environment gets reference data only"
mkdir -p "$TMP/rg-vao-main"
: >"$TMP/rg-vao-main/vao.sqlite"
seed seeds/vao-demo/referentiel.yml "$TMP/rg-vao-main/vao.sqlite" '["reference"]' "$TMP/vao-main.log"
PG_DATABASE=$TMP/rg-vao-main/vao.sqlite SMOKE_EXPECT_TEST_DATA=persistent python3 seeds/vao-demo/smoke.py | tee "$TMP/vao-main-smoke.log"
if PG_DATABASE=$VAO_DB SMOKE_EXPECT_TEST_DATA=persistent python3 seeds/vao-demo/smoke.py >/dev/null; then
  echo "vao-demo smoke accepted test data in a persistent environment" >&2; exit 1
fi
ok "reference only; test data refused where persistent"

if command -v terraform >/dev/null; then
  check "local stacks: terraform fmt, then foundation -> stores -> seeds -> apps -> dns -> smoke -> sweep"
  terraform fmt -check -recursive terraform/local >"$TMP/fmt.log" 2>&1 || { cat "$TMP/fmt.log" >&2; exit 1; }
  CLOUD="$TMP/cloud" ENVIRONMENT=ci-1
  export TF_IN_AUTOMATION=1 TF_INPUT=0 TF_VAR_environment=$ENVIRONMENT TF_VAR_product=orthense-demo \
    TF_VAR_local_cloud_dir=$CLOUD TF_VAR_simulated_seconds=0
  export TF_VAR_nightshift_tags="{\"nightshift-managed-by\":\"ci\",\"nightshift-product\":\"orthense-demo\",\"nightshift-environment\":\"$ENVIRONMENT\",\"nightshift-run\":\"ci\",\"nightshift-kind\":\"pull-request\",\"nightshift-expires-at\":\"2099-01-01T00:00:00Z\"}"
  tf() {  # tf LAYER: init + apply one layer, outputs to $TMP/tf/LAYER.json
    local layer=$1 work="$TMP/tf/$1"
    mkdir -p "$work"
    TF_DATA_DIR="$work/data" terraform -chdir="terraform/local/orthense-demo/$layer" init -no-color \
      -backend-config="path=$work/terraform.tfstate" >"$work/init.log" 2>&1 || { cat "$work/init.log" >&2; return 1; }
    TF_DATA_DIR="$work/data" terraform -chdir="terraform/local/orthense-demo/$layer" apply -no-color -auto-approve \
      >"$work/apply.log" 2>&1 || { cat "$work/apply.log" >&2; return 1; }
    TF_DATA_DIR="$work/data" terraform -chdir="terraform/local/orthense-demo/$layer" output -json >"$TMP/tf/$layer.json" \
      2>>"$work/apply.log"
  }
  out() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]["value"]; print(v if isinstance(v, str) else json.dumps(v))' "$TMP/tf/$1.json" "$2"; }
  tf foundation
  export TF_VAR_resource_group_name; TF_VAR_resource_group_name=$(out foundation resource_group_name)
  tf mongo
  tf sql
  seed seeds/orthense-demo/seed-mongo.yml "$(out mongo database_path)" '["reference", "test"]' "$TMP/tf-mongo.log"
  seed seeds/orthense-demo/seed-sql.yml "$(out sql database_path)" '["reference", "test"]' "$TMP/tf-sql.log"
  TF_VAR_database_path=$(out mongo database_path) tf api-medical
  TF_VAR_database_path=$(out sql database_path) tf api-accounts
  TF_VAR_api_medical_url=$(out api-medical url) TF_VAR_api_accounts_url=$(out api-accounts url) tf spas
  TF_VAR_api_medical_url=$(out api-medical url) TF_VAR_api_accounts_url=$(out api-accounts url) \
    TF_VAR_spa_urls=$(out spas urls) tf dns
  MONGO_DATABASE=$(out mongo database_path) SQL_DATABASE=$(out sql database_path) python3 seeds/orthense-demo/smoke.py >"$TMP/tf-smoke.log"
  RG=$(out foundation resource_group_path)
  python3 -c 'import json, sys; t = json.load(open(sys.argv[1] + "/tags.json")); assert t["nightshift-environment"] == "ci-1", t' "$RG"
  [[ $(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["records"]["value"]))' "$TMP/tf/dns.json") -eq 5 ]]
  rm -rf "$RG"  # the sweep: deleting the group deletes the databases in it
  if MONGO_DATABASE=$(out mongo database_path) SQL_DATABASE=$(out sql database_path) python3 seeds/orthense-demo/smoke.py >/dev/null; then
    echo "smoke passed after the resource group was deleted" >&2; exit 1
  fi
  ok "7 layers applied, smoke passed, sweep removed the data"
else
  echo "skip local stacks: terraform not on PATH"
fi

CURRENT=done
echo "check-ansible: $PASSED passed, 0 failed"
