#!/bin/bash
# FAKE k3s for sloth-kubernetes tests — NOT the real K3s. It is as strict as K3s about its command
# line and config file (unknown subcommands, flags and config keys are fatal), writes the files
# K3s writes (node token, admin kubeconfig, both 0600), and records every invocation and join in
# /var/lib/sloth-fake so tests can check order, batches and token use. It never records the token
# itself, only a hash prefix. The "cluster" is a tiny HTTP service (socat) on the first server.
# Substituted by the test: the documented config keys per role.
SERVER_KEYS="@SERVER_KEYS@"
AGENT_KEYS="@AGENT_KEYS@"
VERSION="@VERSION@"
CONFIG=/etc/rancher/k3s/config.yaml
REC=/var/lib/sloth-fake
PORT=6443
mkdir -p "$REC"

record() { echo "$(date +%s.%N) $*" >> "$REC/invocations.log"; }
fail() { echo "fake k3s: $*" >&2; record "FAILED $*"; exit 1; }

config_value() {  # scalar value of KEY in the config file (quotes removed)
  sed -n "s/^$1: *//p" "$CONFIG" | head -1 | sed 's/^"\(.*\)"$/\1/'
}
config_list_first() {  # first item of list KEY
  awk -v k="$1:" '$1==k{f=1;next} f&&/^  - /{sub(/^  - /,"");gsub(/"/,"");print;exit} f&&!/^  - /{exit}' "$CONFIG"
}

check_config() {  # $1 = role
  [ -f "$CONFIG" ] || fail "config file $CONFIG missing"
  local allowed key
  if [ "$1" = server ]; then allowed=" $SERVER_KEYS "; else allowed=" $AGENT_KEYS "; fi
  while IFS= read -r key; do
    case "$allowed" in *" $key "*) ;; *) fail "unknown config key for $1: $key" ;; esac
  done < <(grep -E '^[a-z0-9-]+:' "$CONFIG" | cut -d: -f1)
  grep -qE '^  - |^[a-z0-9-]+:|^#|^$' "$CONFIG" || fail "config file is not flat YAML"
  [ -n "$(config_value token)" ] || fail "no token in $CONFIG"
  [ -n "$(config_value node-name)" ] || fail "no node-name"
  [ -n "$(config_list_first node-ip)" ] || fail "no node-ip"
}

token_hash() { printf '%s' "$(config_value token)" | sha256sum | cut -c1-12; }

handle() {  # one HTTP request on stdin (socat child on the first server)
  local line path query data
  read -r line; path=$(echo "$line" | cut -d' ' -f2)
  data=$(config_value data-dir)
  query=${path#*\?}; path=${path%%\?*}
  printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n'
  case "$path" in
    /join)
      local name role tok
      name=$(echo "$query" | tr '&' '\n' | sed -n 's/^name=//p')
      role=$(echo "$query" | tr '&' '\n' | sed -n 's/^role=//p')
      tok=$(echo "$query" | tr '&' '\n' | sed -n 's/^tok=//p')
      [ "$tok" = "$(token_hash)" ] || { echo denied; echo "$(date +%s.%N) DENIED $name" >> "$REC/joins.log"; return; }
      (
        flock 9
        local before pending
        before=$(wc -l < "$data/server/fake-members")
        pending=$(ls "$REC"/pending-* 2>/dev/null | wc -l)
        [ "$role" = server ] && [ "$pending" -gt 0 ] && echo "$(date +%s.%N) CONCURRENT $name" >> "$REC/joins.log"
        grep -q "^$name " "$data/server/fake-members" && { echo ok; exit 0; }
        echo "$(date +%s.%N) JOIN $name $role members_before=$before" >> "$REC/joins.log"
        touch "$REC/pending-$name"
        # registration takes a moment, as a real etcd member add and kubelet registration do
        ( sleep 1; echo "$name $role" >> "$data/server/fake-members"; rm -f "$REC/pending-$name" ) >/dev/null 2>&1 &
        echo ok
      ) 9>"$REC/join.lock"
      ;;
    /members) cat "$data/server/fake-members" ;;
    *) echo unknown ;;
  esac
}

first_server() { cat "$REC/server" 2>/dev/null || echo 127.0.0.1; }
members() { curl -sf "http://$(first_server):$PORT/members"; }

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

run() {  # $1 = server | agent
  local role=$1; shift
  [ $# -eq 0 ] || fail "unexpected arguments to '$role' (everything belongs in $CONFIG): $*"
  check_config "$role"
  local data name; data=$(config_value data-dir); name=$(config_value node-name)
  record "START $role name=$name token_sha=$(token_hash) cluster_init=$(config_value cluster-init) server=$(config_value server) config_mode=$(stat -c %a $CONFIG)"
  if [ "$role" = server ] && [ "$(config_value cluster-init)" = true ]; then
    mkdir -p "$data/server" && : > "$data/server/fake-members"
    echo "$name server" >> "$data/server/fake-members"
    ( umask 077; printf 'K10fake::server:%s\n' "$(config_value token)" > "$data/server/token" )
    ( umask 077; printf 'apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: RkFLRQ==\n    server: https://127.0.0.1:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\nkind: Config\nusers:\n- name: default\n  user:\n    client-certificate-data: RkFLRQ==\n    client-key-data: RkFLRQ==\n' > /etc/rancher/k3s/k3s.yaml )
    rm -f "$REC/server"
    socat TCP-LISTEN:$PORT,fork,reuseaddr SYSTEM:"$0 __handle" &
  else
    local url host; url=$(config_value server)
    [ -n "$url" ] || fail "$role without server: and without cluster-init"
    host=${url#https://}; host=${host%:*}
    echo "$host" > "$REC/server"
    for _ in $(seq 50); do
      reply=$(curl -sf "http://$host:$PORT/join?name=$name&role=$role&tok=$(token_hash)") && break
      sleep 0.2
    done
    [ "$reply" = ok ] || fail "join refused by $host: ${reply:-no answer}"
    if [ "$role" = server ]; then
      ( umask 077; mkdir -p "$data/server"; printf 'K10fake::server:%s\n' "$(config_value token)" > "$data/server/token" )
      ( umask 077; printf 'apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\nusers:\n- name: default\n  user: {}\n' > /etc/rancher/k3s/k3s.yaml )
    fi
  fi
  while :; do sleep 3600 & wait $!; done  # stay in the process list as "k3s <role>"
}

case "$1" in
  --version|-v) echo "k3s version $VERSION (fake)"; echo "go version go1.22 (fake)" ;;
  server|agent) run "$@" ;;
  kubectl) shift; kubectl "$@" ;;
  __handle) handle ;;
  *) fail "unknown command: $*" ;;
esac
