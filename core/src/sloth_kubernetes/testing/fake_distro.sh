#!/bin/bash
# FAKE Kubernetes distribution binary (stands in for k3s or rke2) for sloth-kubernetes tests —
# NOT the real K3s or RKE2. It is as strict as they are about its command line and config file
# (unknown subcommands, arguments and config keys are fatal; bool/int keys must have such values;
# the keys come from the plugin's flags.yaml), writes the files they write (node token, admin
# kubeconfig with write-kubeconfig-mode, default 0600), and records every invocation, start and
# join in /var/lib/sloth-fake so tests can check order, batches, ports and token use. It never
# records the token itself, only a hash prefix. The "cluster" is a tiny HTTP service (socat) on
# the first server: joins on the registration port, member lists on the API port.
# Substituted by sloth_kubernetes.testing.fake_distro (see fake_binary()):
DISTRO="@DISTRO@"
VERSION="@VERSION@"
SERVER_KEYS="@SERVER_KEYS@"  # key:type ...
AGENT_KEYS="@AGENT_KEYS@"
CONFIG="@CONFIG@"
KUBECONFIG_FILE="@KUBECONFIG@"
JOIN_PORT="@JOIN_PORT@"  # where joining nodes register (K3s: the API port; RKE2: 9345)
API_PORT="@API_PORT@"
INIT="@INIT@"  # cluster-init: K3s (the first server says cluster-init: true); without-server: RKE2
KUBECTL="@KUBECTL@"  # subcommand: `k3s kubectl`; data-dir: RKE2's <data-dir>/bin/kubectl
REC=/var/lib/sloth-fake
mkdir -p "$REC"

record() { echo "$(date +%s.%N) $*" >> "$REC/invocations.log"; }
fail() { echo "fake $DISTRO: $*" >&2; record "FAILED $*"; exit 1; }

config_value() {  # scalar value of KEY in the config file (quotes removed)
  sed -n "s/^$1: *//p" "$CONFIG" | head -1 | sed 's/^"\(.*\)"$/\1/'
}
config_list_first() {  # first item of list KEY
  awk -v k="$1:" '$1==k{f=1;next} f&&/^  - /{sub(/^  - /,"");gsub(/"/,"");print;exit} f&&!/^  - /{exit}' "$CONFIG"
}
data_dir() { local d; d=$(config_value data-dir); echo "${d:-/var/lib/rancher/$DISTRO}"; }

key_type() {  # $1 = role, $2 = key: the documented type, nothing when undocumented
  local keys entry
  if [ "$1" = server ]; then keys=$SERVER_KEYS; else keys=$AGENT_KEYS; fi
  for entry in $keys; do
    [ "${entry%%:*}" = "$2" ] && { echo "${entry#*:}"; return; }
  done
}

check_config() {  # $1 = role
  [ -f "$CONFIG" ] || fail "config file $CONFIG missing"
  local key kind value
  if grep -vqE '^  - |^[a-z0-9-]+:|^#|^$' "$CONFIG"; then fail "config file is not flat YAML"; fi
  while IFS= read -r key; do
    kind=$(key_type "$1" "$key")
    [ -n "$kind" ] || fail "unknown config key for $1: $key"
    value=$(config_value "$key")
    case "$kind" in
      bool) [ "$value" = true ] || [ "$value" = false ] || fail "$key: not a bool: $value" ;;
      int) [[ "$value" =~ ^[0-9]+$ ]] || fail "$key: not an integer: $value" ;;
    esac
  done < <(grep -E '^[a-z0-9-]+:' "$CONFIG" | cut -d: -f1)
  [ -n "$(config_value token)" ] || fail "no token in $CONFIG"
  [ -n "$(config_value node-name)" ] || fail "no node-name"
  [ -n "$(config_list_first node-ip)" ] || fail "no node-ip"
}

token_hash() { printf '%s' "$(config_value token)" | sha256sum | cut -c1-12; }

query_value() { echo "$1" | tr '&' '\n' | sed -n "s/^$2=//p"; }

handle() {  # one HTTP request on stdin (socat child on the first server); $1 = listening port
  local port=$1 line path query data
  read -r line; path=$(echo "$line" | cut -d' ' -f2)
  data=$(data_dir)
  query=${path#*\?}; path=${path%%\?*}
  printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n'
  case "$path" in
    /join)
      local name role
      name=$(query_value "$query" name); role=$(query_value "$query" role)
      [ "$port" = "$JOIN_PORT" ] || { echo "wrong port: register on $JOIN_PORT"; echo "$(date +%s.%N) WRONGPORT $name port=$port" >> "$REC/joins.log"; return; }
      [ "$(query_value "$query" tok)" = "$(token_hash)" ] || { echo denied; echo "$(date +%s.%N) DENIED $name" >> "$REC/joins.log"; return; }
      (
        flock 9
        local before pending
        before=$(wc -l < "$data/server/fake-members")
        pending=$(ls "$REC"/pending-* 2>/dev/null | wc -l)
        [ "$role" = server ] && [ "$pending" -gt 0 ] && echo "$(date +%s.%N) CONCURRENT $name" >> "$REC/joins.log"
        grep -q "^$name " "$data/server/fake-members" && { echo ok; exit 0; }
        echo "$(date +%s.%N) JOIN $name $role members_before=$before port=$port" >> "$REC/joins.log"
        touch "$REC/pending-$name"
        # registration takes a moment, as a real etcd member add and kubelet registration do
        ( sleep 1; echo "$name $role" >> "$data/server/fake-members"; rm -f "$REC/pending-$name" ) >/dev/null 2>&1 &
        echo ok
      ) 9>"$REC/join.lock"
      ;;
    /members) [ "$port" = "$API_PORT" ] && cat "$data/server/fake-members" ;;
    *) echo unknown ;;
  esac
}

first_server() { cat "$REC/server" 2>/dev/null || echo 127.0.0.1; }
members() { curl -sf "http://$(first_server):$API_PORT/members"; }

kubectl() {
  [ "$1" = --kubeconfig ] || fail "kubectl without --kubeconfig"
  [ -f "$2" ] || fail "kubectl: no kubeconfig at $2"
  shift 2
  local me; me=$(config_value node-name)
  case "$*" in
    "get --raw=/readyz") members | grep -q "^$me " && echo ok || { echo "not ready" >&2; exit 1; } ;;
    "get nodes -l node-role.kubernetes.io/etcd=true -o name") members | awk '$2=="server"{print "node/"$1}' ;;
    "get nodes -o name") members | awk '{print "node/"$1}' ;;
    "get nodes -o jsonpath="*) members | awk '{print $1"=True"}' ;;
    *) fail "kubectl: unsupported arguments: $*" ;;
  esac
}

write_server_files() {  # node token and admin kubeconfig, as the real server writes them
  local data mode; data=$(data_dir); mode=$(config_value write-kubeconfig-mode)
  ( umask 077; mkdir -p "$data/server"; printf 'K10fake::server:%s\n' "$(config_value token)" > "$data/server/token" )
  ( umask 077; mkdir -p "$(dirname "$KUBECONFIG_FILE")"; printf 'apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: RkFLRQ==\n    server: https://127.0.0.1:%s\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\nkind: Config\nusers:\n- name: default\n  user:\n    client-certificate-data: RkFLRQ==\n    client-key-data: RkFLRQ==\n' "$API_PORT" > "$KUBECONFIG_FILE" )
  chmod "${mode:-0600}" "$KUBECONFIG_FILE"
  if [ "$KUBECTL" = data-dir ]; then
    mkdir -p "$data/bin"
    printf '#!/bin/sh\nexec %s __kubectl "$@"\n' "$0" > "$data/bin/kubectl"
    chmod 755 "$data/bin/kubectl"
  fi
}

initialises() {  # $1 = role: does this start create the cluster?
  [ "$1" = server ] || return 1
  case "$INIT" in
    cluster-init) [ "$(config_value cluster-init)" = true ] ;;
    without-server) [ -z "$(config_value server)" ] ;;
  esac
}

run() {  # $1 = server | agent
  local role=$1; shift
  [ $# -eq 0 ] || fail "unexpected arguments to '$role' (everything belongs in $CONFIG): $*"
  check_config "$role"
  local data name url; data=$(data_dir); name=$(config_value node-name); url=$(config_value server)
  record "START $role name=$name token_sha=$(token_hash) cluster_init=$(config_value cluster-init) server=$url config_mode=$(stat -c %a "$CONFIG")"
  # stopping the unit stops the "API server" too (it lives in this process for the real one)
  trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM INT
  if initialises "$role"; then
    mkdir -p "$data/server" && : > "$data/server/fake-members"
    echo "$name server" >> "$data/server/fake-members"
    write_server_files
    rm -f "$REC/server"
    socat TCP-LISTEN:"$JOIN_PORT",fork,reuseaddr SYSTEM:"$0 __handle $JOIN_PORT" &
    [ "$API_PORT" = "$JOIN_PORT" ] || socat TCP-LISTEN:"$API_PORT",fork,reuseaddr SYSTEM:"$0 __handle $API_PORT" &
  else
    [ -n "$url" ] || fail "$role without server: and without cluster-init"
    local host port reply=""
    host=${url#https://}; port=${host##*:}; host=${host%:*}
    echo "$host" > "$REC/server"
    for _ in $(seq 50); do
      reply=$(curl -sf "http://$host:$port/join?name=$name&role=$role&tok=$(token_hash)") && break
      sleep 0.2
    done
    [ "$reply" = ok ] || fail "join refused by $host:$port: ${reply:-no answer}"
    [ "$role" = server ] && write_server_files
  fi
  while :; do sleep 3600 & wait $!; done  # stay in the process list as "<distro> <role>"
}

case "$1" in __*) ;; *) record "CALL $*" ;; esac  # internal calls are not invocations
case "$1" in
  --version|-v) echo "$DISTRO version $VERSION (fake)"; echo "go version go1.22 (fake)" ;;
  server|agent) run "$@" ;;
  kubectl) [ "$KUBECTL" = subcommand ] || fail "unknown command: $*"; shift; kubectl "$@" ;;
  __kubectl) shift; kubectl "$@" ;;
  __handle) handle "$2" ;;
  *) fail "unknown command: $*" ;;
esac
