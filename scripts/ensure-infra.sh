#!/usr/bin/env bash
# Make sure the local PostgreSQL and RabbitMQ answer, starting (or, as root on
# Debian, installing) them where needed. Quiet and idempotent when all is up.
#
# Used by `make run`, `make test` and `make bench`. Also installs the programs the tests and benchmarks use
# as real peers (curl, aria2c, nginx, chromium, Prometheus, Alertmanager) where they are missing and this is a Debian machine run as root.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
AMQP_HOST=127.0.0.1
AMQP_PORT=5672
WAIT_SECONDS=60
COMPOSE_HINT="docker compose -f deploy/compose.yaml up -d postgres rabbitmq"

say() { printf '%s\n' "$*"; }
fail() { printf 'ensure-infra: %s\n' "$*" >&2; exit 1; }

can_install() {
    [[ ${EUID} -eq 0 && -f /etc/debian_version ]] && command -v apt-get >/dev/null
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    say "$1: installing the Debian package(s) ${*:2}"
    if ! apt-get install -y -q "${@:2}" >/tmp/ensure-infra-apt.log 2>&1; then
        apt-get update -q >>/tmp/ensure-infra-apt.log 2>&1 || true
        apt-get install -y -q "${@:2}" >>/tmp/ensure-infra-apt.log 2>&1 \
            || { tail -n 20 /tmp/ensure-infra-apt.log >&2; fail "apt-get install ${*:2} failed"; }
    fi
}

# wait_until SECONDS CMD...: run CMD once a second until it succeeds or time runs out.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

# ---------------------------------------------------------------- PostgreSQL
pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

pg_cluster_version() {
    # The newest cluster version under /etc/postgresql that has a `main` cluster.
    [[ -d /etc/postgresql ]] || return 1
    local v
    v=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -name main -printf '%h\n' 2>/dev/null \
        | xargs -r -n1 basename | sort -V | tail -n 1)
    [[ -n $v ]] && printf '%s\n' "$v"
}

pg_start() {
    local v
    v=$(pg_cluster_version) || fail "postgresql: installed but no cluster under /etc/postgresql"
    say "postgresql: starting cluster $v/main"
    pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
    wait_until "$WAIT_SECONDS" pg_up \
        || fail "postgresql: cluster $v/main did not answer on $PG_HOST:$PG_PORT within ${WAIT_SECONDS}s (see /var/log/postgresql/postgresql-$v-main.log)"
}

pg_trust_loopback() {
    # A fresh Debian cluster asks for a password on TCP; the dev stack connects as
    # postgres@127.0.0.1 with none (as on the dev and CI machines). Only done on a
    # cluster this script installed itself.
    local v hba
    v=$(pg_cluster_version) || return 0
    hba=/etc/postgresql/$v/main/pg_hba.conf
    [[ -f $hba ]] || return 0
    if ! grep -q '^# its-portal dev loop' "$hba"; then
        say "postgresql: allowing passwordless connections from 127.0.0.1/::1 (local development)"
        {
            printf '# its-portal dev loop: trust loopback TCP\n'
            printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'
            cat "$hba"
        } >"$hba.new" && chown --reference="$hba" "$hba.new" && chmod --reference="$hba" "$hba.new" \
            && mv "$hba.new" "$hba"
        pg_ctlcluster --skip-systemctl-redirect "$v" main reload >/dev/null 2>&1 || true
    fi
}

ensure_postgres() {
    if pg_up; then
        say "postgresql: up"
        return
    fi
    if command -v pg_ctlcluster >/dev/null && pg_cluster_version >/dev/null; then
        pg_start
    elif can_install; then
        apt_install postgresql postgresql
        pg_trust_loopback
        pg_up || pg_start
    else
        cat >&2 <<MSG
postgresql: nothing answers on $PG_HOST:$PG_PORT and PostgreSQL is not installed here.
Get one of:
  - Debian/Ubuntu:  sudo apt-get install -y postgresql   (then allow postgres@127.0.0.1 without a password,
                    or set ITS_DATABASE_URL=postgresql://USER:PASSWORD@127.0.0.1:5432/its)
  - Docker:         $COMPOSE_HINT
then run this again.
MSG
        exit 1
    fi
    say "postgresql: up"
}

# ------------------------------------------------------------------ RabbitMQ
amqp_up() { timeout 2 bash -c "exec 3<>/dev/tcp/$AMQP_HOST/$AMQP_PORT" >/dev/null 2>&1; }

# Every quorum queue holds about three file descriptors: the suite's vhosts hold a few hundred queues at once (each
# test run's own, the contract tests' own, a `make run` stack's), past the 1024 a broker started with the default
# limit gets (it then accepts no connection: services "not ready"). The broker is started with more.
RABBIT_FILES=20000

# Debian's rabbitmq-server switches to the rabbitmq user (su resets limits): the broker's own environment file,
# which its start script sources, raises them.
RABBIT_ENV=/etc/rabbitmq/rabbitmq-env.conf

rabbit_more_files() {
    if [ -w "$(dirname "$RABBIT_ENV")" ] && ! grep -q "ulimit -n" "$RABBIT_ENV" 2>/dev/null; then
        printf '\n# scripts/ensure-infra.sh: quorum queues hold file descriptors\nulimit -n %s 2>/dev/null || true\n' \
            "$RABBIT_FILES" >>"$RABBIT_ENV"
    fi
}

rabbit_start() {
    rabbit_more_files
    say "rabbitmq: starting rabbitmq-server (open files: $RABBIT_FILES)"
    # -detached returns at once; the broker opens its AMQP port when booted.
    (ulimit -n "$RABBIT_FILES" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; rabbitmq-server -detached >/dev/null 2>&1) || true
    wait_until "$WAIT_SECONDS" amqp_up \
        || fail "rabbitmq: did not answer on $AMQP_HOST:$AMQP_PORT within ${WAIT_SECONDS}s (see /var/log/rabbitmq/)"
}

rabbit_files_limit() {
    rabbitmqctl -q status 2>/dev/null | sed -n 's/.*Total: [0-9]*, limit: \([0-9]*\).*/\1/p' | head -1
}

ensure_rabbitmq() {
    if amqp_up; then
        local limit
        limit="$(rabbit_files_limit)"
        # A local broker of this machine with too few descriptors for the suite: restart it with more (a remote
        # one, or one rabbitmqctl cannot reach, is left as it is).
        if [ -n "$limit" ] && [ "$limit" -lt 4096 ] && command -v rabbitmq-server >/dev/null; then
            say "rabbitmq: up with $limit file descriptors; restarting it with $RABBIT_FILES"
            rabbitmqctl -q shutdown >/dev/null 2>&1 || rabbitmqctl -q stop >/dev/null 2>&1 || true
            wait_until "$WAIT_SECONDS" bash -c "! timeout 2 bash -c 'exec 3<>/dev/tcp/$AMQP_HOST/$AMQP_PORT' 2>/dev/null" || true
            rabbit_start
        fi
        say "rabbitmq: up"
        return
    fi
    if command -v rabbitmq-server >/dev/null; then
        rabbit_start
    elif can_install; then
        apt_install rabbitmq rabbitmq-server
        amqp_up || rabbit_start
    else
        cat >&2 <<MSG
rabbitmq: nothing answers on $AMQP_HOST:$AMQP_PORT and RabbitMQ is not installed here.
Get one of:
  - Debian/Ubuntu:  sudo apt-get install -y rabbitmq-server
  - Docker:         $COMPOSE_HINT
then run this again.
MSG
        exit 1
    fi
    say "rabbitmq: up"
}

# RabbitMQ's own figures (queue depths, consumers) for the local Prometheus: the rabbitmq_prometheus plugin, on
# 127.0.0.1:15692 only. Enabled on a running broker without a restart: the listener's address is set in the node's
# environment first (rabbitmq.conf is read only at boot; the line added there after keeps it so at the next boot).
RABBIT_CONF=/etc/rabbitmq/rabbitmq.conf
BROKER_METRICS_PORT=15692
broker_metrics_up() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BROKER_METRICS_PORT" >/dev/null 2>&1; }

ensure_rabbitmq_metrics() {
    broker_metrics_up && return 0
    if ! command -v rabbitmq-plugins >/dev/null || ! rabbitmqctl -q status >/dev/null 2>&1; then
        say "rabbitmq: not a local broker; its Prometheus endpoint is left to whoever runs it"
        return 0
    fi
    rabbitmqctl -q eval "application:load(rabbitmq_prometheus), application:set_env(rabbitmq_prometheus, tcp_config, [{ip, \"127.0.0.1\"}, {port, $BROKER_METRICS_PORT}])." >/dev/null 2>&1 || true
    rabbitmq-plugins -q enable rabbitmq_prometheus >/dev/null 2>&1 || true
    wait_until 20 broker_metrics_up || fail "rabbitmq: the rabbitmq_prometheus plugin did not open 127.0.0.1:$BROKER_METRICS_PORT"
    # Only once the plugin is enabled: its schema is what makes the broker accept this line at boot.
    if [ -w "$(dirname "$RABBIT_CONF")" ] && ! grep -q "^prometheus.tcp.ip" "$RABBIT_CONF" 2>/dev/null; then
        printf '\n# scripts/ensure-infra.sh: the metrics endpoint on loopback only\nprometheus.tcp.ip = 127.0.0.1\n' >>"$RABBIT_CONF"
    fi
    say "rabbitmq: metrics on 127.0.0.1:$BROKER_METRICS_PORT"
}

# ------------------------------------------------------ test peers and tools
ensure_tools() {
    local missing=()
    command -v curl >/dev/null || missing+=(curl)
    command -v aria2c >/dev/null || missing+=(aria2)
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    # Prometheus and Alertmanager for `make run` (devtools/prometheus.py, devtools/alertmanager.py); promtool tests
    # deploy/prometheus's rules.
    command -v promtool >/dev/null || missing+=(prometheus)
    command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
    # tests/faults run a PostgreSQL cluster of their own (initdb, postgres), even where the server is elsewhere.
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
    ((${#missing[@]})) || return 0
    if can_install; then
        apt_install tools "${missing[@]}"
    else
        say "tools: missing ${missing[*]} (the download, gateway, browser, fault and alert-rule tests and the benchmarks use them; install the Debian packages)"
    fi
}

# axe-core (npm) for the browser tests' accessibility check, kept under var/node (not committed).
AXE_VERSION=4.14.1
ensure_axe() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    [[ -f $root/var/node/node_modules/axe-core/axe.min.js ]] && return 0
    if ! command -v npm >/dev/null; then
        if can_install; then apt_install npm npm; else say "axe-core: npm is missing (the accessibility test needs it)"; return 0; fi
    fi
    say "axe-core: installing axe-core@$AXE_VERSION into var/node"
    npm install --silent --no-audit --no-fund --prefix "$root/var/node" "axe-core@$AXE_VERSION" \
        >/tmp/ensure-infra-npm.log 2>&1 || { tail -n 20 /tmp/ensure-infra-npm.log >&2; fail "npm install axe-core failed"; }
}

# @asyncapi/cli (npm), the official AsyncAPI validator that `make test` runs on every service's /asyncapi.json
# (tests/contract/test_asyncapi.py), kept under var/node. 4.1.1: the newest whose dependencies run on Node 20
# (Debian's); 5.x and 6.x require Node 24.
ASYNCAPI_CLI_VERSION=4.1.1
ensure_asyncapi_cli() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    [[ -f $root/var/node/node_modules/@asyncapi/cli/package.json ]] \
        && grep -q "\"version\": \"$ASYNCAPI_CLI_VERSION\"" "$root/var/node/node_modules/@asyncapi/cli/package.json" && return 0
    if ! command -v npm >/dev/null; then
        if can_install; then apt_install npm npm; else say "@asyncapi/cli: npm is missing (the AsyncAPI test needs it)"; return 0; fi
    fi
    say "@asyncapi/cli: installing @asyncapi/cli@$ASYNCAPI_CLI_VERSION into var/node (a minute or two)"
    npm install --silent --no-audit --no-fund --prefix "$root/var/node" "@asyncapi/cli@$ASYNCAPI_CLI_VERSION" \
        >/tmp/ensure-infra-npm.log 2>&1 || { tail -n 20 /tmp/ensure-infra-npm.log >&2; fail "npm install @asyncapi/cli failed"; }
}

ensure_postgres
ensure_rabbitmq
ensure_rabbitmq_metrics
ensure_tools
ensure_axe
ensure_asyncapi_cli
