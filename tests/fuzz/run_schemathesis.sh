#!/usr/bin/env bash
# Fuzz the live API with schemathesis over its own OpenAPI schema (/v1/openapi.json).
#
# Starts the example site on 127.0.0.1 with a throw-away SQLite database and the test settings' project id,
# then runs schemathesis (pinned; installed into its own venv on first use, so its pytest plugin stays out
# of the test suite) with the checks not_a_server_error and response_schema_conformance. Bounded: at most
# $MAX_EXAMPLES examples per operation and $MAX_TIME seconds for the whole run. Exits non-zero on any 5xx
# or any response that does not match the schema.
#
#   PYTHON=/path/to/venv/bin/python tests/fuzz/run_schemathesis.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-python}"
SCHEMATHESIS_VERSION="4.32.5"
FUZZ_VENV="${FUZZ_VENV:-$ROOT/.venv-fuzz}"
MAX_EXAMPLES="${MAX_EXAMPLES:-60}"
MAX_TIME="${MAX_TIME:-150}"  # the run itself; with start-up, under 3 minutes
PORT="${PORT:-$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
PROJECT_ID="$(cd "$ROOT" && "$PYTHON" -c 'import ast, pathlib
tree = ast.parse(pathlib.Path("tests/settings.py").read_text())
print(next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "PROJECT_ID"))')"

if [ ! -x "$FUZZ_VENV/bin/schemathesis" ] || ! "$FUZZ_VENV/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
    "$PYTHON" -m venv "$FUZZ_VENV"
    "$FUZZ_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# FUZZ_DATABASE_URL runs the site on another database (e.g. PostgreSQL, which refuses some input SQLite takes).
export DATABASE_URL="${FUZZ_DATABASE_URL:-sqlite:///$WORK/db.sqlite3}"
export DJANGO_DEBUG=0
export DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost"
export MAGICLINK_PROJECT_ID="$PROJECT_ID"
export MAGICLINK_REDIRECT_URLS="http://localhost/,https://app.example.com/"
export EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
export SMS_FILE_PATH="$WORK/sms.jsonl"
export MAGICLINK_LOG_LEVEL=ERROR
export MAGICLINK_SMS_COUNTRY_CODES="1,33,44"
# The example site with the abuse limits lifted (tests/fuzz/settings.py): otherwise most requests stop at 429.
export DJANGO_SETTINGS_MODULE=tests.fuzz.settings
cd "$ROOT"
"$PYTHON" manage.py migrate -v 0
# Two live sessions for the session calls (see schemathesis.toml).
read -r FUZZ_ME_REFRESH_JWT FUZZ_REFRESH_JWT < <("$PYTHON" manage.py shell -v 0 -c '
from magiclink_auth.sessions import issue_tokens, open_session
from magiclink_auth.users import create_user
tokens = []
for email in ("fuzz-me@example.com", "fuzz-refresh@example.com"):
    user = create_user("email", email, {"name": "Fuzz"})
    session = open_session(user, amr=["email"], claims={}, ip=None, user_agent="fuzz")
    tokens.append(issue_tokens(session, user).refresh_jwt)
print(*tokens)
')
export FUZZ_ME_REFRESH_JWT FUZZ_REFRESH_JWT
"$PYTHON" manage.py runserver "127.0.0.1:$PORT" --noreload --nothreading >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

status=0
cd "$WORK"  # schemathesis keeps a .schemathesis/ cache in the working directory
"$FUZZ_VENV/bin/schemathesis" --config-file "$ROOT/tests/fuzz/schemathesis.toml" run "http://127.0.0.1:$PORT/v1/openapi.json" \
    --wait-for-schema 30 \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" \
    --request-timeout 10 \
    --header "Authorization: Bearer $PROJECT_ID" \
    --seed "${SEED:-1}" \
    "$@" || status=$?

if grep -q "Internal Server Error\|Traceback" "$WORK/server.log"; then
    echo "--- server log (errors) ---"; grep -A30 "Traceback" "$WORK/server.log" | head -200
    status=1
fi
exit "$status"
