# Sourced by the set-up scripts: installs the Debian packages of scripts/debian-packages.txt and checks
# that every program it lists is there. Quiet: one line per step; apt's own output goes to a log whose
# path is printed only when a step fails.
#   install_sets NAME SET...     e.g. install_sets setup base linux
#   check_programs NAME SET...   the preflight: names each missing program and the package providing it

packages_file=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/debian-packages.txt

# list_entries SET... : "LINE SET PACKAGE[/SUITE] PROGRAM…" for each entry of those sets ("-" dropped).
list_entries() {
  local sets=" $* " line number=0 package set programs word
  while IFS= read -r line; do
    number=$((number + 1))
    read -r package set programs <<<"${line%%#*}"
    [ -n "$package" ] && [[ $sets == *" $set "* ]] || continue
    line="$number $set $package"
    for word in $programs; do [ "$word" = - ] || line+=" $word"; done
    echo "$line"
  done <"$packages_file"
}

# installed SPEC: the package is installed; a backports package only in its backports version (~bpo).
installed() {
  local package=${1%%/*} status
  status=$(dpkg-query -W -f='${Status} ${Version}' "$package" 2>/dev/null) || return 1
  [[ $status == "install ok installed "* ]] || return 1
  [[ $1 != */*-backports ]] || [[ $status == *"~bpo"* ]]
}

# run_logged LOG COMMAND... : the command's output goes to LOG; on failure its end is shown with the path.
run_logged() {
  local log=$1
  shift
  if ! "$@" >>"$log" 2>&1; then
    echo "---- the last lines of $log" >&2
    tail -n 25 "$log" >&2
    echo "failed: $*  (its whole output: $log)" >&2
    return 1
  fi
}

# need_root NAME : runs this script again as root, through sudo, when it is not.
need_root() {
  local name=$1
  [ "$(id -u)" -eq 0 ] && return 0
  if ! command -v sudo >/dev/null; then
    echo "$name: installing packages needs root, and sudo is not installed: run it as root (su -c $0)" >&2
    exit 1
  fi
  echo "$name: installing packages needs root: sudo $0"
  exec sudo --preserve-env=DEBIAN_FRONTEND "$0"
}

install_sets() {
  local name=$1
  shift
  local number set spec programs missing=() plain=() backports=() suite
  while read -r number set spec programs; do
    installed "$spec" || missing+=("$spec")
  done < <(list_entries "$@")
  if [ ${#missing[@]} -eq 0 ]; then
    echo "$name: the Debian packages of scripts/debian-packages.txt ($*) are installed"
    check_programs "$name" "$@"
    return
  fi
  need_root "$name"
  export DEBIAN_FRONTEND=noninteractive
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/edgeprov-apt.XXXXXX.log")
  for spec in "${missing[@]}"; do
    if [[ $spec == */* ]]; then backports+=("$spec"); suite=${spec#*/}; else plain+=("$spec"); fi
  done
  if [ ${#backports[@]} -gt 0 ] && ! grep -rqs "^[^#]*$suite" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "$name: adding the apt source $suite (for ${backports[*]%%/*})"
    cat >"/etc/apt/sources.list.d/$suite.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  echo "$name: apt-get update"
  run_logged "$log" apt-get update
  local apt=(apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0)
  if [ ${#plain[@]} -gt 0 ]; then
    echo "$name: installing ${#plain[@]} packages: ${plain[*]}"
    run_logged "$log" "${apt[@]}" "${plain[@]}"
  fi
  if [ ${#backports[@]} -gt 0 ]; then
    echo "$name: installing from $suite: ${backports[*]%%/*}"
    run_logged "$log" "${apt[@]}" -t "$suite" "${backports[@]%%/*}"
  fi
  rm -f "$log"
  check_programs "$name" "$@"
}

# check_programs NAME SET... : every program those sets list is on PATH, and where dpkg knows the file,
# it comes from the package the list says (so the list cannot silently name the wrong package).
check_programs() {
  local name=$1
  shift
  local number set package programs program path count=0 problems=() from
  local -A wanted=() where=()
  while read -r number set package programs; do
    package=${package%%/*}
    for program in $programs; do
      count=$((count + 1))
      if path=$(command -v "$program"); then
        wanted[$path]=$package
        where[$path]="$program (scripts/debian-packages.txt:$number)"
        continue
      fi
      case $set in
        base) from="part of every Debian system: install it with apt-get install $package" ;;
        windows) from="scripts/windows/setup-cross.sh installs it" ;;
        *) from="scripts/setup-debian.sh installs it" ;;
      esac
      if installed "$package"; then
        problems+=("\`$program\` is not on PATH although the package $package is installed: scripts/debian-packages.txt:$number names the wrong package for it, or the program by a wrong name")
      else
        problems+=("\`$program\` is not installed: it comes with the Debian package $package (scripts/debian-packages.txt:$number); $from")
      fi
    done
  done < <(list_entries "$@")
  # dpkg -S knows /bin/sh where PATH finds /usr/bin/sh (merged /usr): ask for both spellings.
  local -a asked=()
  for path in "${!wanted[@]}"; do
    asked+=("$path")
    case $path in /usr/bin/* | /usr/sbin/*) asked+=("${path#/usr}") ;; esac
  done
  local owners file
  while IFS= read -r line; do
    [[ $line == *": /"* ]] || continue
    owners=${line%%: /*} file=/${line#*: /}
    [[ $owners == "diversion by"* ]] && continue
    [ -n "${wanted[$file]:-}" ] || file=/usr$file
    [ -n "${wanted[$file]:-}" ] || continue
    while [[ $owners =~ ^(.*):[a-z0-9]+(,.*)?$ ]]; do owners=${BASH_REMATCH[1]}${BASH_REMATCH[2]}; done  # pkg:arch
    owners=", $owners, "
    [[ $owners == *", ${wanted[$file]}, "* ]] ||
      problems+=("${where[$file]}: $file comes from the package ${owners:2:-2}, not ${wanted[$file]}")
  done < <(dpkg-query -S "${asked[@]}" 2>/dev/null || true)
  if [ ${#problems[@]} -gt 0 ]; then
    for program in "${problems[@]}"; do echo "$name: $program" >&2; done
    return 1
  fi
  echo "$name: the $count programs of the sets $* are on PATH"
}
