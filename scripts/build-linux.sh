#!/usr/bin/env bash
# Build the wkvm Linux guest (kernel Image + busybox initramfs) from Debian's
# packages only, into a cache outside git keyed by every input.
#
#   bash scripts/build-linux.sh          (npm run guest:linux)
#
# Inputs:  linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz), Debian's
#          busybox source package (apt-get source), gcc-riscv64-linux-gnu,
#          scripts/linux/wkvm.config, scripts/linux/initramfs/, this script.
# Output:  ${WKVM_CACHE:-$HOME/.cache/wkvm}/linux-<key>/{Image,rootfs.cpio.gz,
#          manifest.json,...} and the symlink .../linux-current -> linux-<key>.
#          The output directory is printed as the last line on stdout; all
#          progress goes to stderr.
#
# Environment:
#   WKVM_CACHE        cache root (default $HOME/.cache/wkvm)
#   WKVM_JOBS         make -j value (default 2)
#   WKVM_VERBOSE=1    stream the compiler output instead of logging it
#   WKVM_KEEP_BUILD=1 keep the temporary build tree (on success and failure)
#   WKVM_FORCE=1      rebuild even if the cache entry exists
#   --key             print the key inputs (stderr) and the key, build nothing
# See docs/linux-guest.md.
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
DATA="$SCRIPT_DIR/linux"
FRAGMENT="$DATA/wkvm.config"
INITRAMFS="$DATA/initramfs"
CACHE_ROOT="${WKVM_CACHE:-$HOME/.cache/wkvm}"
JOBS="${WKVM_JOBS:-2}"
ROOT_IMG_MB=64
CROSS=riscv64-linux-gnu-
KPKG=linux-source-6.1
KTAR=/usr/src/linux-source-6.1.tar.xz
MAKE_K=(make ARCH=riscv "CROSS_COMPILE=$CROSS")

PRINT_KEY=0
case "${1:-}" in
  "") ;;
  --key) PRINT_KEY=1 ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--key|--help]" >&2; exit 2 ;;
esac

T0=$(date +%s.%N)
log() { printf 'build-linux: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi

# --- packages ----------------------------------------------------------------

pkg_version() { # print the installed version of a package, or nothing
  { dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null || true; } |
    awk '$1 == "installed" { print $2; exit }'
}

APT_UPDATED=0
apt_update() {
  [ "$APT_UPDATED" = 1 ] && return 0
  log "apt-get update"
  "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
  APT_UPDATED=1
}

ensure_pkgs() { # install whichever of the given packages is missing
  local missing=() p
  for p in "$@"; do [ -n "$(pkg_version "$p")" ] || missing+=("$p"); done
  [ "${#missing[@]}" = 0 ] && return 0
  apt_update
  log "apt-get install ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
}

# Tools only the build needs (checked by command so a warm run is cheap).
ensure_build_tools() {
  local want=() pair cmd pkg
  for pair in make:make gcc:gcc flex:flex bison:bison bc:bc xz:xz-utils \
              gzip:gzip perl:perl dpkg-source:dpkg-dev cpio:cpio \
              "${CROSS}gcc:gcc-riscv64-linux-gnu" sha256sum:coreutils \
              flock:util-linux mke2fs:e2fsprogs; do
    cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || want+=("$pkg")
  done
  # headers/libraries, checked through dpkg
  for pkg in libc6-dev libssl-dev libc6-dev-riscv64-cross; do
    [ -n "$(pkg_version "$pkg")" ] || want+=("$pkg")
  done
  [ "${#want[@]}" = 0 ] || ensure_pkgs "${want[@]}"
  MKE2FS=$(command -v mke2fs || echo /sbin/mke2fs)
}

# --- busybox source: deb-src entry for the machine's own suite ------------------

CODENAME=$( . /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")

source_files() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
           /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && printf '%s\n' "$f"
  done
  return 0
}

# Suites of this release: "<codename>" and "<codename>-<anything>".
suite_re() { if [ -n "$CODENAME" ]; then printf '^%s(-.*)?$' "$CODENAME"; else printf '.'; fi; }

# Print the one-line entries (deb-src form) for the release's `deb` lines.
# $1 = "deb" to convert deb lines, "deb-src" to list existing deb-src lines.
oneline_entries() {
  local want=$1 f
  for f in $(source_files | grep '\.list$' || true); do
    awk -v want="$want" -v re="$(suite_re)" '
      { sub(/#.*/, "") }
      $1 == want {
        i = 2
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        # fields: i = URI, i+1 = suite
        if ((i + 1) <= NF && $(i + 1) ~ re) { $1 = "deb-src"; print }
      }' "$f"
  done
}

# Print deb822 stanzas (as deb-src) whose Types has $1 and whose Suites has a
# suite of this release.
deb822_entries() {
  local want=$1 f
  for f in $(source_files | grep '\.sources$' || true); do
    awk -v want="$want" -v re="$(suite_re)" '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; suites = ""; enabled = "yes"; out = ""
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^#/) continue
          if (tolower(line) ~ /^types:/) { types = line; sub(/^[^:]*:/, "", types); line = "Types: deb-src" }
          else if (tolower(line) ~ /^suites:/) { suites = line; sub(/^[^:]*:/, "", suites) }
          else if (tolower(line) ~ /^enabled:/) { enabled = tolower(line); sub(/^[^:]*:[ \t]*/, "", enabled) }
          out = out line "\n"
        }
        if (enabled == "no") next
        nt = split(types, t, /[ \t]+/); okt = 0
        for (j = 1; j <= nt; j++) if (t[j] == want) okt = 1
        ns = split(suites, s, /[ \t]+/); oks = 0
        for (j = 1; j <= ns; j++) if (s[j] != "" && s[j] ~ re) oks = 1
        if (okt && oks) printf "%s\n", out
      }' "$f"
  done
}

ensure_deb_src() {
  if [ -n "$(oneline_entries deb-src)$(deb822_entries deb-src)" ]; then
    return 0
  fi
  local lines stanzas
  lines=$(oneline_entries deb)
  stanzas=$(deb822_entries deb)
  [ -n "$lines$stanzas" ] ||
    die "no 'deb' entry for suite '${CODENAME:-?}' in /etc/apt/sources.list(.d); add a deb-src entry for busybox by hand"
  log "adding deb-src entries for ${CODENAME:-this release} (busybox source)"
  if [ -n "$stanzas" ]; then
    { echo "# Added by wkvm scripts/build-linux.sh: source packages (busybox)"
      printf '%s\n' "$stanzas"; } |
      "${SUDO[@]}" tee /etc/apt/sources.list.d/wkvm-deb-src.sources >/dev/null
  fi
  if [ -n "$lines" ]; then
    { echo "# Added by wkvm scripts/build-linux.sh: source packages (busybox)"
      printf '%s\n' "$lines"; } |
      "${SUDO[@]}" tee /etc/apt/sources.list.d/wkvm-deb-src.list >/dev/null
  fi
  APT_UPDATED=0
  apt_update
}

# The version `apt-get source busybox` fetches: the highest one apt knows.
busybox_src_version() {
  { apt-cache showsrc --only-source busybox 2>/dev/null || true; } |
    awk '/^Package: /{ p = $2 } /^Version: / && p == "busybox" { print $2 }' |
    { best=""
      while read -r v; do
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
      done
      printf '%s' "$best"; }
}

# --- inputs and cache key -------------------------------------------------------

[ -f "$FRAGMENT" ] || die "missing $FRAGMENT"
[ -d "$INITRAMFS" ] || die "missing $INITRAMFS"

# every package the key names is installed before the key is made: the
# cross glibc (libc6-dev-riscv64-cross, for the static busybox) installed
# only by the build changed the key of the next run, which built again
ensure_pkgs "$KPKG" gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
[ -f "$KTAR" ] || die "$KTAR not found (is $KPKG installed?)"
ensure_deb_src
BB_VER=$(busybox_src_version)
if [ -z "$BB_VER" ]; then
  APT_UPDATED=0
  apt_update
  BB_VER=$(busybox_src_version)
fi
[ -n "$BB_VER" ] || die "apt does not know the busybox source package (deb-src missing?)"

# The cross toolchain: the metapackage plus the packages that really hold the
# compiler, binutils and the glibc linked statically into busybox.
cross_pkgs() {
  { dpkg-query -W -f='${db:Status-Status} ${Package}\n' \
      'gcc-riscv64-linux-gnu' 'gcc-[0-9]*-riscv64-linux-gnu' \
      'cpp-[0-9]*-riscv64-linux-gnu' 'binutils-riscv64-linux-gnu' \
      'libc6-dev-riscv64-cross' 'libc6-riscv64-cross' \
      'linux-libc-dev-riscv64-cross' 'libgcc-[0-9]*-dev-riscv64-cross' 2>/dev/null || true; } |
    awk '$1 == "installed" { print $2 }' | sort -u
}

KEY_INPUTS=$(
  printf 'wkvm-linux-guest 1\n'
  printf 'file build-linux.sh %s\n' "$(sha256sum < "$SCRIPT" | cut -d' ' -f1)"
  (cd "$DATA" && find . -type f -print | sort | while read -r f; do
     mode=644; [ -x "$f" ] && mode=755
     printf 'file linux/%s %s %s\n' "${f#./}" "$mode" "$(sha256sum < "$f" | cut -d' ' -f1)"
   done)
  printf 'deb %s %s\n' "$KPKG" "$(pkg_version "$KPKG")"
  printf 'deb-src busybox %s\n' "$BB_VER"
  printf 'deb e2fsprogs %s\n' "$(pkg_version e2fsprogs)"
  for p in $(cross_pkgs); do printf 'deb %s %s\n' "$p" "$(pkg_version "$p")"; done
)
KEY=$(printf '%s\n' "$KEY_INPUTS" | sha256sum | cut -c1-16)
OUT="$CACHE_ROOT/linux-$KEY"
if [ "$PRINT_KEY" = 1 ]; then
  printf '%s\n' "$KEY_INPUTS" >&2
  printf '%s\n' "$KEY"
  exit 0
fi

update_current() {
  ln -sfn "linux-$KEY" "$CACHE_ROOT/.linux-current.$$"
  mv -Tf "$CACHE_ROOT/.linux-current.$$" "$CACHE_ROOT/linux-current"
}

if [ -z "${WKVM_FORCE:-}" ] && [ -f "$OUT/manifest.json" ] && [ -f "$OUT/Image" ] &&
   [ -f "$OUT/rootfs.cpio.gz" ] && [ -f "$OUT/root.img" ]; then
  [ "$(readlink "$CACHE_ROOT/linux-current" 2>/dev/null)" = "linux-$KEY" ] || update_current
  log "cache hit: linux-$KEY"
  printf '%s\n' "$OUT"
  exit 0
fi

# --- cold path: build ----------------------------------------------------------------

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock-linux"
if ! flock -n 9; then
  log "another Linux guest build is running; waiting"
  flock 9
fi
if [ -z "${WKVM_FORCE:-}" ] && [ -f "$OUT/manifest.json" ]; then
  update_current; log "built meanwhile: linux-$KEY"; printf '%s\n' "$OUT"; exit 0
fi

log "building linux-$KEY (kernel $KPKG $(pkg_version "$KPKG"), busybox $BB_VER)"
ensure_build_tools

B=$(mktemp -d "$CACHE_ROOT/.build-linux-$KEY.XXXXXX")
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    log "build failed (exit $rc)"
    [ -f "$B/current.log" ] && { log "last lines of $(cat "$B/current.log"):"; tail -n 60 "$(cat "$B/current.log")" >&2 || true; }
  fi
  if [ -n "${WKVM_KEEP_BUILD:-}" ]; then log "kept build tree $B"; else rm -rf "$B"; fi
  rm -f "$CACHE_ROOT/.linux-current.$$"
}
trap cleanup EXIT
mkdir -p "$B/out" "$B/logs"

# run_logged NAME cmd... : run a build step, output to $B/logs/NAME.log
run_logged() {
  local name=$1; shift
  printf '%s\n' "$B/logs/$name.log" > "$B/current.log"
  if [ -n "${WKVM_VERBOSE:-}" ]; then
    "$@" 2>&1 | tee "$B/logs/$name.log" >&2
  else
    "$@" > "$B/logs/$name.log" 2>&1
  fi
  rm -f "$B/current.log"
}

elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }
step() { log "$(printf '[%4ss] ' "$(elapsed)")$*"; }

# Sources ----------------------------------------------------------------------
SRC_CACHE="$CACHE_ROOT/src"
mkdir -p "$SRC_CACHE/busybox"
BB_UPSTREAM=${BB_VER#*:}
BB_DSC="busybox_${BB_UPSTREAM}.dsc"
if [ ! -f "$SRC_CACHE/busybox/$BB_DSC" ]; then
  step "apt-get source busybox=$BB_VER"
  ( cd "$SRC_CACHE/busybox" &&
    apt-get source --download-only -qq "busybox=$BB_VER" >&2 ) ||
    die "apt-get source busybox=$BB_VER failed"
fi
step "unpacking busybox $BB_VER"
run_logged busybox-unpack dpkg-source -x "$SRC_CACHE/busybox/$BB_DSC" "$B/busybox"

step "unpacking $KTAR"
mkdir -p "$B/linux"
tar -xJf "$KTAR" -C "$B/linux" --strip-components=1

# Reproducible timestamps: the newest of the two Debian changelog entries.
changelog_epoch() { dpkg-parsechangelog -l "$1" -STimestamp 2>/dev/null || echo 0; }
zcat "/usr/share/doc/$KPKG/changelog.Debian.gz" > "$B/linux.changelog" 2>/dev/null || : > "$B/linux.changelog"
K_EPOCH=$(changelog_epoch "$B/linux.changelog")
BB_EPOCH=$(changelog_epoch "$B/busybox/debian/changelog")
SOURCE_DATE_EPOCH=$(( K_EPOCH > BB_EPOCH ? K_EPOCH : BB_EPOCH ))
[ "$SOURCE_DATE_EPOCH" -gt 0 ] || SOURCE_DATE_EPOCH=$(stat -c %Y "$KTAR")
export SOURCE_DATE_EPOCH
export KBUILD_BUILD_TIMESTAMP="$(date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %e %H:%M:%S UTC %Y')"
export KBUILD_BUILD_USER=wkvm KBUILD_BUILD_HOST=wkvm KBUILD_BUILD_VERSION=1

# Kernel -------------------------------------------------------------------------
K="$B/linux"
step "configuring the kernel: tinyconfig + scripts/linux/wkvm.config"
# tinyconfig = allnoconfig + kernel/configs/tiny*.config; merging the fragment
# in the same allnoconfig pass keeps every symbol that nobody asked for off.
: > "$B/kconfig.all"
for frag in "$K/kernel/configs/tiny-base.config" "$K/kernel/configs/tiny.config" "$FRAGMENT"; do
  [ -f "$frag" ] && cat "$frag" >> "$B/kconfig.all"
done
run_logged kconfig nice -n 10 "${MAKE_K[@]}" -C "$K" KCONFIG_ALLCONFIG="$B/kconfig.all" allnoconfig
run_logged kconfig-old nice -n 10 "${MAKE_K[@]}" -C "$K" olddefconfig

# Every symbol of the fragment must have stuck.
MISSED=$(
  sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)$/\1 \2/p' \
         -e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1 n/p' "$FRAGMENT" |
  while read -r sym want; do
    got=$(sed -n -e "s/^$sym=\\(.*\\)\$/\\1/p" -e "s/^# $sym is not set\$/n/p" "$K/.config" | head -n1)
    [ -n "$got" ] || got=n
    [ "$got" = "$want" ] || printf '  %s: wanted %s, got %s\n' "$sym" "$want" "$got"
  done
)
if [ -n "$MISSED" ]; then
  log "warning: fragment symbols that did not stick:"
  printf '%s\n' "$MISSED" >&2
fi

step "building the kernel (make -j$JOBS Image)"
run_logged kernel nice -n 10 "${MAKE_K[@]}" -C "$K" -j"$JOBS" Image
K_RELEASE=$(cat "$K/include/config/kernel.release")
cp "$K/arch/riscv/boot/Image" "$B/out/Image"
cp "$K/System.map" "$B/out/System.map"
cp "$K/.config" "$B/out/kernel.config"

# Busybox ------------------------------------------------------------------------
BB="$B/busybox"
step "configuring busybox (defconfig, static)"
run_logged busybox-config nice -n 10 make -C "$BB" ARCH=riscv "CROSS_COMPILE=$CROSS" defconfig
# Static glibc build. Applets that need things static glibc does not do well
# (NSS lookups are only warned about by the linker, so they stay) or that do
# not build against these headers are turned off below.
bb_set() { # bb_set SYMBOL y|n|"string"
  local sym=CONFIG_$1 val=$2
  sed -i -e "/^$sym=/d" -e "/^# $sym is not set/d" "$BB/.config"
  if [ "$val" = n ]; then echo "# $sym is not set" >> "$BB/.config"
  else echo "$sym=$val" >> "$BB/.config"; fi
}
bb_set STATIC y
bb_set CROSS_COMPILER_PREFIX "\"$CROSS\""
bb_set EXTRA_CFLAGS '""'
bb_set EXTRA_LDFLAGS '""'
bb_set FEATURE_INDIVIDUAL n
bb_set FEATURE_SHARED_BUSYBOX n
bb_set PIE n
bb_set FEATURE_SUID y
bb_set INSTALL_NO_USR n
for applet in $(sed -n 's/^\([A-Z0-9_]*\)$/\1/p' "$DATA/busybox-off.txt" 2>/dev/null); do
  bb_set "$applet" n
done
run_logged busybox-oldconfig sh -c "yes '' | make -C '$BB' ARCH=riscv CROSS_COMPILE=$CROSS oldconfig"
step "building busybox (make -j$JOBS)"
run_logged busybox nice -n 10 make -C "$BB" ARCH=riscv "CROSS_COMPILE=$CROSS" -j"$JOBS" busybox busybox.links
"${CROSS}readelf" -l "$BB/busybox" > "$B/busybox.readelf"
if grep -q 'Requesting program interpreter' "$B/busybox.readelf"; then die "busybox is not static"; fi
cp "$BB/.config" "$B/out/busybox.config"
BB_BANNER=$(grep -a -o -m1 'BusyBox v[^)]*)' "$BB/busybox" | head -n1 || true)

# Initramfs ------------------------------------------------------------------------
step "building rootfs.cpio.gz"
run_logged gen_init_cpio gcc -O2 -o "$B/gen_init_cpio" "$K/usr/gen_init_cpio.c"
R="$B/rootfs"
mkdir -p "$R"
cp -R "$INITRAMFS/." "$R/"
mkdir -p "$R/bin"
install -m 0755 "$BB/busybox" "$R/bin/busybox"
# Normalize modes: executables 0755, the rest 0644, directories 0755.
find "$R" -type d -exec chmod 0755 {} +
find "$R" -type f -perm -u+x -exec chmod 0755 {} +
find "$R" -type f ! -perm -u+x -exec chmod 0644 {} +
[ -f "$R/etc/shadow" ] && chmod 0600 "$R/etc/shadow"
# Skeleton directories and the busybox applet links (relative to
# /bin/busybox), made in the tree itself: the initramfs and the root disk
# image are both made from it.
for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp:1777 /run \
         /mnt /root:0700 /etc /var /var/log; do
  mode=0755
  case "$d" in *:*) mode=${d#*:} d=${d%%:*} ;; esac
  mkdir -p "$R$d"; chmod "$mode" "$R$d"
done
sort -u "$BB/busybox.links" | while read -r l; do
  [ "$l" = /bin/busybox ] && continue
  [ -e "$R$l" ] && continue
  case "$l" in
    /bin/*|/sbin/*) rel=../bin/busybox ;;
    /usr/bin/*|/usr/sbin/*) rel=../../bin/busybox ;;
    /linuxrc) continue ;;  # /init is ours
    *) die "unexpected applet path $l" ;;
  esac
  [ "${l%/*}" = /bin ] && rel=busybox
  ln -s "$rel" "$R$l"
done
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
{
  # The two device nodes the kernel needs before devtmpfs is mounted (early
  # console). No root or mknod needed.
  echo "nod /dev/console 0600 0 0 c 5 1"
  echo "nod /dev/null 0666 0 0 c 1 3"
  (cd "$R" && find . -mindepth 1 | sed 's|^\.||' | sort) | while read -r p; do
    if [ -L "$R$p" ]; then echo "slink $p $(readlink "$R$p") 0777 0 0"
    elif [ -d "$R$p" ]; then echo "dir $p $(stat -c %a "$R$p") 0 0"
    else echo "file $p $R$p $(stat -c %a "$R$p") 0 0"
    fi
  done
} > "$B/initramfs.list"
cp "$B/initramfs.list" "$B/out/initramfs.list"
sed -i "s|$R|<rootfs>|" "$B/out/initramfs.list"
"$B/gen_init_cpio" -t "$SOURCE_DATE_EPOCH" "$B/initramfs.list" > "$B/rootfs.cpio"
gzip -9 -n < "$B/rootfs.cpio" > "$B/out/rootfs.cpio.gz"

# Root disk image ------------------------------------------------------------------
# The same tree as an ext4 file system, made by mke2fs -d (no root, no loop
# mount): boots with -drive file=root.img,format=raw,if=virtio
# -append "root=/dev/vda rw console=ttyS0". Fixed UUID and hash seed, so the
# same inputs give the same image.
step "building root.img (ext4, ${ROOT_IMG_MB} MiB)"
E2FS_UUID=7776b6d0-0000-4000-8000-000000000001
run_logged mke2fs env E2FSPROGS_FAKE_TIME="$SOURCE_DATE_EPOCH" "$MKE2FS" -q -F -t ext4 -L wkvm-root \
  -U "$E2FS_UUID" -E "root_owner=0:0,hash_seed=$E2FS_UUID" -d "$R" "$B/out/root.img" "${ROOT_IMG_MB}M"

# Manifest ----------------------------------------------------------------------------
json_str() { # JSON string literal
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}
sha() { sha256sum < "$1" | cut -d' ' -f1; }
BUILD_SECONDS=$(elapsed)
{
  echo "{"
  echo "  \"key\": $(json_str "$KEY"),"
  echo "  \"kernel\": {"
  echo "    \"package\": $(json_str "$KPKG"),"
  echo "    \"version\": $(json_str "$(pkg_version "$KPKG")"),"
  echo "    \"release\": $(json_str "$K_RELEASE"),"
  echo "    \"image\": \"Image\","
  echo "    \"size\": $(stat -c %s "$B/out/Image"),"
  echo "    \"sha256\": $(json_str "$(sha "$B/out/Image")"),"
  echo "    \"config\": \"kernel.config\","
  echo "    \"fragment_misses\": $(json_str "$(printf '%s' "$MISSED" | sed 's/^ *//')")"
  echo "  },"
  echo "  \"busybox\": {"
  echo "    \"source\": \"busybox\","
  echo "    \"version\": $(json_str "$BB_VER"),"
  echo "    \"banner\": $(json_str "$BB_BANNER"),"
  echo "    \"config\": \"busybox.config\","
  echo "    \"static\": true"
  echo "  },"
  echo "  \"rootfs\": {"
  echo "    \"file\": \"rootfs.cpio.gz\","
  echo "    \"size\": $(stat -c %s "$B/out/rootfs.cpio.gz"),"
  echo "    \"sha256\": $(json_str "$(sha "$B/out/rootfs.cpio.gz")")"
  echo "  },"
  echo "  \"disk\": {"
  echo "    \"file\": \"root.img\","
  echo "    \"format\": \"raw\","
  echo "    \"filesystem\": \"ext4\","
  echo "    \"size\": $(stat -c %s "$B/out/root.img")"
  echo "  },"
  echo "  \"toolchain\": {"
  first=1
  for p in $(cross_pkgs); do
    [ "$first" = 1 ] || echo ","
    printf '    %s: %s' "$(json_str "$p")" "$(json_str "$(pkg_version "$p")")"
    first=0
  done
  echo
  echo "  },"
  echo "  \"inputs\": $(json_str "$KEY_INPUTS"),"
  echo "  \"source_date_epoch\": $SOURCE_DATE_EPOCH,"
  echo "  \"build_seconds\": $BUILD_SECONDS,"
  echo "  \"jobs\": $JOBS,"
  echo "  \"boot\": {"
  echo "    \"wkvm\": \"npx wkvm run -kernel Image -initrd rootfs.cpio.gz -append \\\"console=ttyS0\\\"\","
  echo "    \"qemu\": \"qemu-system-riscv64 -M virt -smp 2 -m 256M -nographic -kernel Image -initrd rootfs.cpio.gz -append \\\"console=ttyS0\\\"\","
  echo "    \"poweroff_cmdline_key\": \"wkvm.poweroff\""
  echo "  }"
  echo "}"
} > "$B/out/manifest.json"

# Publish atomically -----------------------------------------------------------------
if [ -e "$OUT" ]; then
  rm -rf "$OUT.old.$$"; mv "$OUT" "$OUT.old.$$"
fi
mv "$B/out" "$OUT"
rm -rf "$OUT.old.$$"
update_current
step "done: linux-$KEY (Image $(stat -c %s "$OUT/Image") bytes, rootfs $(stat -c %s "$OUT/rootfs.cpio.gz") bytes, ${BUILD_SECONDS}s)"
printf '%s\n' "$OUT"
