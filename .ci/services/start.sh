#!/usr/bin/env bash
# Starts, as real services on loopback, what the remote-backend tests talk to:
#   - an OpenSSH server on 127.0.0.1:2222 (its own host key, a generated client key for root),
#   - a one-node Slurm cluster (munge, slurmctld, slurmd) with two fake GPUs as gres,
#   - a Docker daemon (when dockerd is installed) and a local base image, llmops-test/bookworm-node:20
#     (Debian bookworm minbase from apt's own mirror plus this machine's Node and npm), because no
#     registry image can be pulled in CI. Made once (~60 s), then cached as a tarball (~3 s import).
# Run as root on Debian 12 with openssh-server rsync slurm-wlm munge installed. Idempotent: what
# already runs is left alone. Writes $LLMOPS_SERVICES_DIR/services.env (and .json) that the tests read.
# Fails loudly (non-zero, with the log tail) when a service cannot be started.
set -euo pipefail

DIR=${LLMOPS_SERVICES_DIR:-/tmp/llmops-services}
SSH_PORT=${LLMOPS_SSH_PORT:-2222}
# Slurm reads /etc/slurm/slurm.conf everywhere (sbatch over ssh too), so the CI cluster lives there;
# a slurm.conf that is not ours is never overwritten.
SLURM_ETC=${LLMOPS_SLURM_ETC:-/etc/slurm}
MARK='# managed by llmops .ci/services/start.sh'

die() { echo "services: ERROR: $*" >&2; exit 1; }
say() { echo "services: $*" >&2; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "must run as root (sshd on a port, munged and slurmd need it)"
for b in /usr/sbin/sshd ssh ssh-keygen rsync /usr/sbin/munged munge slurmctld slurmd sbatch sinfo scontrol; do
  command -v "$b" >/dev/null || die "missing $b. Try this: apt-get install -y openssh-server rsync slurm-wlm munge"
done

mkdir -p "$DIR/ssh" "$DIR/slurm/state" "$DIR/slurm/spool" "$DIR/slurm/log" "$DIR/slurm/dev"
chmod 700 "$DIR/ssh"

# ---------------------------------------------------------------- sshd
S="$DIR/ssh"
[ -f "$S/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C llmops-ci-host -f "$S/host_ed25519"
[ -f "$S/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C llmops-ci-client -f "$S/id_ed25519"
cp "$S/id_ed25519.pub" "$S/authorized_keys"
chmod 644 "$S/authorized_keys"
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$S/host_ed25519.pub")" > "$S/known_hosts"
cat > "$S/sshd_config" <<CONF
$MARK
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $S/host_ed25519
PidFile $S/sshd.pid
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
# ControlMaster multiplexes every poll over one connection: allow plenty of sessions.
MaxSessions 100
MaxStartups 100:30:200
Subsystem sftp internal-sftp
CONF
mkdir -p /run/sshd
if alive "$S/sshd.pid"; then
  say "sshd already running (pid $(cat "$S/sshd.pid"))"
else
  /usr/sbin/sshd -t -f "$S/sshd_config" || die "sshd config test failed ($S/sshd_config)"
  /usr/sbin/sshd -f "$S/sshd_config" -E "$S/sshd.log" || { tail -n 20 "$S/sshd.log" >&2; die "sshd did not start"; }
fi
ok=
for _ in $(seq 1 50); do
  if ssh -q -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$S/known_hosts" \
      -o ControlMaster=no -i "$S/id_ed25519" -p "$SSH_PORT" root@127.0.0.1 true 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || { tail -n 20 "$S/sshd.log" >&2; die "cannot log in over ssh to root@127.0.0.1:$SSH_PORT"; }
say "sshd: root@127.0.0.1:$SSH_PORT (key $S/id_ed25519, known_hosts $S/known_hosts)"

# ---------------------------------------------------------------- munge
mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
chmod 755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  if command -v mungekey >/dev/null; then runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
  else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none; fi
  chown munge:munge /etc/munge/munge.key; chmod 600 /etc/munge/munge.key
fi
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "munged already running"
else
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
  for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || die "munge does not work after starting munged"
fi
say "munged: ok"

# ---------------------------------------------------------------- slurm
D="$DIR/slurm"
# Fake GPUs: Slurm refuses regular files as gres devices, character devices it accepts.
for i in 0 1; do [ -c "$D/dev/nvidia$i" ] || { rm -f "$D/dev/nvidia$i"; mknod "$D/dev/nvidia$i" c 195 "$i"; }; done
mkdir -p "$SLURM_ETC"
if [ -f "$SLURM_ETC/slurm.conf" ] && ! grep -qF "$MARK" "$SLURM_ETC/slurm.conf"; then
  die "$SLURM_ETC/slurm.conf exists and was not written by this script; refusing to overwrite it. Try this: LLMOPS_SLURM_ETC=/some/dir with SLURM_CONF=/some/dir/slurm.conf"
fi
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$SLURM_ETC/slurm.conf" <<CONF
$MARK
ClusterName=llmops-ci
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
KillWait=5
MinJobAge=600
SchedulerParameters=sched_interval=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:fake:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
cat > "$SLURM_ETC/gres.conf" <<CONF
$MARK
NodeName=localhost Name=gpu Type=fake File=$D/dev/nvidia[0-1]
CONF
if alive "$D/slurmctld.pid"; then say "slurmctld already running"; else
  slurmctld || { tail -n 20 "$D/log/slurmctld.log" >&2; die "slurmctld did not start"; }
fi
if alive "$D/slurmd.pid"; then say "slurmd already running"; else
  slurmd -N localhost || { tail -n 20 "$D/log/slurmd.log" >&2; die "slurmd did not start"; }
fi
state=
for _ in $(seq 1 100); do
  state=$(sinfo -h -N -n localhost -o %T 2>/dev/null | head -n1 || true)
  case "$state" in idle|mixed|allocated|completing) break ;; down*|drain*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;; esac
  sleep 0.1
done
case "$state" in idle|mixed|allocated|completing) ;; *)
  tail -n 20 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2; die "Slurm node not ready (state: ${state:-none})" ;;
esac
say "slurm: one node 'localhost' ($CPUS CPUs, gres gpu:fake:2), partition debug, state $state"

# ---------------------------------------------------------------- docker
# Optional: without dockerd the image tests say they are skipped. A daemon that already answers
# (a developer's own) is used as it is; otherwise ours runs with its own data root and pidfile.
DOCKER_ENV=
if command -v dockerd >/dev/null && command -v docker >/dev/null; then
  K="$DIR/docker"; mkdir -p "$K"
  if docker info >/dev/null 2>&1; then say "dockerd already answering"; else
    alive "$K/dockerd.pid" && die "dockerd (pid $(cat "$K/dockerd.pid")) runs but does not answer; see $K/dockerd.log"
    dockerd --data-root "$K/root" --exec-root "$K/exec" --pidfile "$K/dockerd.pid" >"$K/dockerd.log" 2>&1 &
    for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    docker info >/dev/null 2>&1 || { tail -n 20 "$K/dockerd.log" >&2; die "dockerd did not answer within 30 s"; }
  fi
  BASE=${LLMOPS_TEST_BASE_IMAGE:-llmops-test/bookworm-node:20}
  if docker image inspect "$BASE" >/dev/null 2>&1; then say "base image $BASE already there"; else
    if [ ! -s "$K/base.tar" ]; then
      command -v debootstrap >/dev/null || die "missing debootstrap. Try this: apt-get install -y debootstrap"
      # The mirror apt itself uses (deb822 sources first, then a classic sources.list).
      MIRROR=$(grep -h -m1 '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n1 || true)
      [ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
      MIRROR=${MIRROR:-http://deb.debian.org/debian}
      R="$K/rootfs"; rm -rf "$R"
      say "debootstrap bookworm from $MIRROR (about a minute, once)"
      debootstrap --variant=minbase bookworm "$R" "$MIRROR" >"$K/debootstrap.log" 2>&1 \
        || { tail -n 20 "$K/debootstrap.log" >&2; die "debootstrap failed"; }
      NODE=$(command -v node); NPMDIR=$(dirname "$(readlink -f "$(command -v npm)")")/..
      install -m 755 "$NODE" "$R/usr/local/bin/node"
      mkdir -p "$R/usr/local/lib/node_modules" && cp -a "$(readlink -f "$NPMDIR")" "$R/usr/local/lib/node_modules/npm"
      ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
      ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
      # Node's headers, so native modules (better-sqlite3) compile without downloading them.
      NODEINC=$(dirname "$(dirname "$(readlink -f "$NODE")")")/include/node
      [ -d "$NODEINC" ] && mkdir -p "$R/usr/local/include" && cp -a "$NODEINC" "$R/usr/local/include/node"
      # Behind a TLS-inspecting proxy npm and apt inside builds need this machine's extra CAs:
      # the local ones (kept by update-ca-certificates when a build installs ca-certificates) and the bundle.
      if [ -d /usr/local/share/ca-certificates ]; then cp -a /usr/local/share/ca-certificates/. "$R/usr/local/share/ca-certificates/"; fi
      if [ -s /etc/ssl/certs/ca-certificates.crt ]; then mkdir -p "$R/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"; fi
      rm -rf "$R/var/cache/apt/archives/"*.deb "$R/var/lib/apt/lists/"*
      tar -C "$R" -cf "$K/base.tar.tmp" . && mv "$K/base.tar.tmp" "$K/base.tar" && rm -rf "$R"
    fi
    docker import --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' --change 'ENV npm_config_nodedir=/usr/local' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      "$K/base.tar" "$BASE" >/dev/null || die "docker import of $K/base.tar failed"
    say "base image $BASE imported"
  fi
  DOCKER_ENV="LLMOPS_TEST_BASE_IMAGE=$BASE"
  say "docker: $(docker version --format '{{.Server.Version}}' 2>/dev/null), base image $BASE"
else
  say "docker: dockerd not installed; the image tests will be skipped (scripts/setup.sh --dev installs it)"
fi

cat > "$DIR/services.env" <<ENV
LLMOPS_SSH_HOST=root@127.0.0.1
LLMOPS_SSH_PORT=$SSH_PORT
LLMOPS_SSH_KEY=$S/id_ed25519
LLMOPS_SSH_KNOWN_HOSTS=$S/known_hosts
LLMOPS_SLURM_PARTITION=debug
LLMOPS_SLURM_GPUS=2
$DOCKER_ENV
ENV
cat > "$DIR/services.json" <<JSON
{"ssh": {"host": "root@127.0.0.1", "port": $SSH_PORT, "identity_file": "$S/id_ed25519", "known_hosts": "$S/known_hosts"},
 "slurm": {"partition": "debug", "gpus": 2, "gpu_type": "fake", "conf": "$SLURM_ETC/slurm.conf"}}
JSON
say "ready: $DIR/services.env"
