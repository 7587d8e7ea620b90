#!/usr/bin/env bash
# The hub's "Done when" walkthrough, following docs/hub.md step by step on one machine:
# an office starts a hub, agencies encode and submit (one through the web page, two with
# `cifranegra hub submit`: the default log-linear estimate needs three lists), a coordinator runs the study, a second person approves, and the public
# page shows the release. Everything happens in a temporary folder that is removed at the end.
#
#   bash bench/hub_walkthrough.sh            # needs `cifranegra` with the hub extra on PATH, curl, jq
#   PORT=8799 KEEP=1 bash bench/hub_walkthrough.sh   # another port; keep the folder to look at it
#
# The passwords here are throwaway ones for a test hub; a real office chooses its own (docs/hub.md).
set -euo pipefail

PORT=${PORT:-8765}
HUB=http://127.0.0.1:$PORT
API=$HUB/api/v1
STUDY=cdmx-trata-2026
W=$(mktemp -d "${TMPDIR:-/tmp}/hub-walkthrough.XXXXXX")
chmod 700 "$W"
SERVER_PID=
started=$(date +%s)

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
# curl that fails on an HTTP error and shows the hub's error message
api() {
    local out
    out=$(curl -sS -w '\n%{http_code}' "$@") || return 1
    local code=${out##*$'\n'} body=${out%$'\n'*}
    if [ "${code:0:1}" != 2 ]; then echo "HTTP $code: $body" >&2; return 1; fi
    printf '%s' "$body"
}
# log in (username, password file) → writes the bearer token to $W/NAME.token (0600)
login() {
    local user=$1 pwfile=$2
    jq -n --arg u "$user" --rawfile p "$pwfile" '{username: $u, password: ($p | rtrimstr("\n"))}' \
        | api -H 'Content-Type: application/json' --data @- "$API/login" | jq -r .token \
        | (umask 077; cat > "$W/$user.token")
}
auth() { echo "Authorization: Bearer $(cat "$W/$1.token")"; }
# a random password in a 0600 file, without a newline (the web form's curl sends the file as it is)
password() { (umask 077; head -c 18 /dev/urandom | base64 | tr -d '\n' > "$W/$1.pw"); }

cd "$W"

step "1. office: create the hub's home (docs/hub.md 'Install and start')"
password admin
cifranegra hub init "$W/home" --admin-user admin --admin-password-file "$W/admin.pw"
ls -l "$W/home"

step "2. office: serve it (web workers + the job runner), wait for /healthz"
cifranegra hub serve "$W/home" --port "$PORT" --workers 2 > "$W/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 60); do curl -sf "$API/healthz" > /dev/null && break; sleep 1; done
api "$API/healthz"; echo

step "3. hub_admin: agencies and accounts; coordinator: the study (docs/hub.md 'Accounts')"
login admin "$W/admin.pw"
for agency in fiscalia_estatal dif fgr_fevimtra; do
    api -H "$(auth admin)" -H 'Content-Type: application/json' --data "{\"name\": \"$agency\"}" "$API/agencies"; echo
done
new_user() {  # username role [agency] [study]
    password "$1"
    jq -n --arg u "$1" --rawfile p "$W/$1.pw" --arg r "$2" --arg a "${3:-}" --arg s "${4:-}" \
        '{username: $u, password: ($p | rtrimstr("\n")), role: $r}
         + (if $a != "" then {agency: $a} else {} end) + (if $s != "" then {study: $s} else {} end)' \
        | api -H "$(auth admin)" -H 'Content-Type: application/json' --data @- "$API/users" | jq -c '{username, role}'
}
new_user coord coordinator
login coord "$W/coord.pw"
api -H "$(auth coord)" -H 'Content-Type: application/json' --data "{\"name\": \"$STUDY\"}" "$API/studies"; echo
new_user approver1 approver "" "$STUDY"
new_user fiscalia_user agency_submitter fiscalia_estatal "$STUDY"
new_user dif_user agency_submitter dif "$STUDY"
new_user fgr_user agency_submitter fgr_fevimtra "$STUDY"

step "4. agencies: encode their lists locally (docs/hub.md 'For agencies')"
cifranegra simulate "$W/sim" --persons 1000 --agencies 3 --seed 1 --no-persons > /dev/null
cifranegra encode --new-secret "$W/study.secret"
cifranegra encode "$W/sim/lists/fiscalia_estatal.csv" --source fiscalia_estatal \
    --project "$STUDY" --secret-file "$W/study.secret" -o "$W/fiscalia.encoded.parquet"
cifranegra encode "$W/sim/lists/dif.csv" --source dif \
    --project "$STUDY" --secret-file "$W/study.secret" -o "$W/dif.encoded.parquet"
cifranegra encode "$W/sim/lists/fgr_fevimtra.xlsx" --source fgr_fevimtra \
    --project "$STUDY" --secret-file "$W/study.secret" -o "$W/fgr.encoded.parquet"

step "5a. fiscalia_estatal: check, then submit through the web page (login form, CSRF token, upload form)"
jar="$W/fiscalia.cookies"
csrf() { grep -o 'name="csrf" value="[^"]*"' | sed -n '1s/.*value="\(.*\)"$/\1/p'; }
token=$(curl -sS -c "$jar" -b "$jar" "$HUB/login" | csrf)
curl -sS -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf=$token" --data-urlencode "username=fiscalia_user" \
    --data-urlencode "password@$W/fiscalia_user.pw" "$HUB/login"
page=$(curl -sS -c "$jar" -b "$jar" "$HUB/?lang=en")
token=$(printf '%s' "$page" | csrf)
key=$(printf '%s' "$page" | grep -o 'name="idempotency_key" value="[^"]*"' | sed -n '1s/.*value="\(.*\)"$/\1/p')
for action in check submit; do
    code=$(curl -sS -o "$W/web-$action.html" -w '%{http_code}' -c "$jar" -b "$jar" -F "csrf=$token" \
        -F "idempotency_key=$key" -F "action=$action" \
        -F "file=@$W/fiscalia.encoded.parquet;type=application/vnd.apache.parquet" "$HUB/submit")
    echo "web $action: HTTP $code"
    [ "${code:0:1}" = 2 ] || { sed 's/<[^>]*>//g' "$W/web-$action.html" | grep -v '^\s*$' | head -20; exit 1; }
done

step "5b. dif: dry run, then submit with cifranegra hub submit (token from POST /login, in a 0600 file)"
login dif_user "$W/dif_user.pw"
cifranegra hub submit "$W/dif.encoded.parquet" --hub "$HUB" --study "$STUDY" --token-file "$W/dif_user.token" --dry-run
cifranegra hub submit "$W/dif.encoded.parquet" --hub "$HUB" --study "$STUDY" --token-file "$W/dif_user.token"
echo "(again: the same submission, never a second one)"
cifranegra hub submit "$W/dif.encoded.parquet" --hub "$HUB" --study "$STUDY" --token-file "$W/dif_user.token"
echo "(a third agency the same way: log-linear models need three lists)"
login fgr_user "$W/fgr_user.pw"
cifranegra hub submit "$W/fgr.encoded.parquet" --hub "$HUB" --study "$STUDY" --token-file "$W/fgr_user.token"
api -H "$(auth coord)" "$API/studies/$STUDY/submissions" | jq -c '.submissions[] | {agency, state, n_records}'

step "6. coordinator: run the study (default settings: log-linear models) and follow it"
run=$(api -H "$(auth coord)" -H 'Content-Type: application/json' --data '{}' "$API/studies/$STUDY/runs" | jq -r .id)
for _ in $(seq 300); do
    state=$(api -H "$(auth coord)" "$API/studies/$STUDY/runs/$run" | jq -r .state)
    case $state in succeeded|failed) break ;; esac
    sleep 2
done
api -H "$(auth coord)" "$API/studies/$STUDY/runs/$run" | jq -c '{state, step, progress, message}'
[ "$state" = succeeded ]

step "7. coordinator drafts the release; a second person (approver1) approves it"
release=$(api -H "$(auth coord)" -H 'Content-Type: application/json' \
    --data "{\"run_id\": \"$run\", \"title\": \"Víctimas de trata, estimación 2023\"}" \
    "$API/studies/$STUDY/releases" | jq -r .id)
login approver1 "$W/approver1.pw"
api -X POST -H "$(auth approver1)" "$API/studies/$STUDY/releases/$release/approve" | jq -c '{id, state}'

step "8. the public (no account): the release list, its page and its estimate"
api "$API/public/releases" | jq -c '[.releases[] | {id, title, study}]'
code=$(curl -sS -o "$W/public.html" -w '%{http_code}' "$HUB/releases/$release?lang=en")
echo "public page $HUB/releases/$release: HTTP $code"
[ "$code" = 200 ]
api "$API/public/releases/$release/files/tables/estimates.csv" > "$W/estimates.csv"
echo "key figure (tables/estimates.csv):"
python3 - "$W/estimates.csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], encoding="utf-8")):
    print(f"  {r['stratum']}: {r['method']} estimate {r['estimate']} "
          f"({r['level']} interval {r['lower']} to {r['upper']}) {r['flag']}")
PY
echo "true number of victims in the synthetic population: 1000"

step "8b. a release found wrong is withdrawn by one person: its notice stays public, its files are gone"
wrong=$(api -H "$(auth coord)" -H 'Content-Type: application/json' \
    --data "{\"run_id\": \"$run\", \"title\": \"Copia con el título equivocado\"}" \
    "$API/studies/$STUDY/releases" | jq -r .id)
api -X POST -H "$(auth approver1)" "$API/studies/$STUDY/releases/$wrong/approve" | jq -c '{id, state}'
api -X POST -H "$(auth coord)" -H 'Content-Type: application/json' \
    --data '{"reason": "published twice by mistake; the release above is the valid one"}' \
    "$API/studies/$STUDY/releases/$wrong/withdraw" | jq -c '{id, state, withdrawal_reason}'
api "$API/public/releases" | jq -c '[.releases[] | {title, state}]'
code=$(curl -sS -o /dev/null -w '%{http_code}' "$API/public/releases/$wrong/files/tables/estimates.csv")
echo "a file of the withdrawn release: HTTP $code"
[ "$code" = 410 ]

step "9. auditor's view: the audit chain verifies"
new_user auditor1 auditor
login auditor1 "$W/auditor1.pw"
api -H "$(auth auditor1)" "$API/audit/verify"; echo

echo
echo "walkthrough done in $(( $(date +%s) - started )) s"
