# shellcheck shell=bash
# labs/lib/readme.sh: run a lab's README.md as a student types it, so that a
# step that no longer works fails the lab's verify (and CI).
#
# A lab's README marks every fenced block with what it is (its info string):
#
#   ```sh          commands the student types. verify runs them; a command
#                  that fails (a non-zero exit, also anywhere in a pipeline)
#                  fails the lab.
#   ```sh fails    commands of which some exit non-zero on purpose (an error
#                  the lab shows, `; echo $?`, `grep -c` counting nothing):
#                  verify runs every line and goes on; its checks read the
#                  output.
#   ```sh inside   lines typed at the prompt of the program that the previous
#                  block's last line started (a container's shell): verify
#                  gives them to that program as its standard input. When
#                  that line is a glassbox command that asks for a terminal
#                  (`run -it`, `exec -ti`, `--tty`), verify runs it under
#                  script(1), which gives it one: the lines go in through a
#                  pseudo-terminal, as if typed. (script runs the line in a
#                  new shell: only exported variables reach it.)
#   ```sh skip     typed by the student, never run by verify. Only for what
#                  verify must not or cannot do (traffic beyond loopback and
#                  the lab's own namespaces, a screen that never ends), and
#                  the README says why next to it.
#   ```text        what the student sees: verify's own checks assert it.
#
# Any other block (```console, a bare ```) is refused: a command hidden in
# one would never be checked.
#
# Every `sh` block runs, in the README's order, in ONE bash session, as in
# a student's terminal: variables and the current directory carry over from
# block to block. The session starts in the top of the source tree (where a
# student runs scripts/setup), with GLASSBOX_ROOT unset and the glassbox
# under test first on the PATH. Jobs left in the background end with the
# session. A README whose last block leaves GLASSBOX_ROOT exported, or the
# shell anywhere but where it started, fails: the next lab, typed in the
# same shell, would run in this lab's root, or not find the source tree.
#
# Use, from a lab's verify:
#
#   . "$(dirname "$0")/../lib/readme.sh"
#   readme_run "$(dirname "$0")/README.md"      # fails on a broken step
#   readme_expect 'ns run --uts --hostname lab' out 'lab'
#   root=$(readme_var GLASSBOX_ROOT)
#
# Blocks are found by their text (the block that is exactly that text, or
# else the first block that contains it), so a check names the command
# whose output it reads.

README_DIR=""      # the session's files: blocks, outputs, transcript
README_FILE=""
README_CHECKS=0

# The glassbox under test, as an absolute path: $GLASSBOX, or `glassbox`
# on the PATH.
lab_glassbox() {
    local g=${GLASSBOX:-glassbox}
    if [[ $g == */* ]]; then
        [[ -x $g ]] || { echo "GLASSBOX=$g is not an executable file" >&2; return 1; }
        (cd "$(dirname "$g")" && printf '%s/%s\n' "$PWD" "$(basename "$g")")
    else
        command -v "$g" 2>/dev/null || {
            echo "glassbox is not on your PATH: run 'scripts/setup' (it installs /usr/local/bin/glassbox), or set GLASSBOX=/path/to/glassbox" >&2
            return 1
        }
    fi
}

lab_need_root() {
    [[ $(id -u) == 0 ]] || { echo "run the lab as root (sudo -i first, or sudo $0)" >&2; exit 1; }
}

# Unmount every mount at or under DIR, deepest first (a lab that failed
# half-way may leave some); then remove DIR without crossing into any mount.
lab_remove_dir() {
    local dir=$1 m
    [[ -n $dir && $dir != / && -e $dir ]] || return 0
    dir=$(cd "$dir" && pwd -P) || return 0
    # mountinfo's 5th field, with octal escapes (\040 for a space) undone
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$dir" '{ p = $5; gsub(/\\040/, " ", p); if (p == d || index(p, d "/") == 1) print p }' /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system "$dir"
}

# readme_run README [SECONDS]: run the README's sh blocks in one session
# (at most SECONDS, default 600), write a transcript, and return non-zero,
# naming the README line and the command, if a step failed.
readme_run() {
    local readme=$1 limit=${2:-600} glassbox top
    README_FILE=$readme
    glassbox=$(lab_glassbox) || return 1
    top=$(cd "$(dirname "$readme")/../.." && pwd)
    README_DIR=$(mktemp -d /tmp/lab-readme-XXXXXX)
    mkdir "$README_DIR/blocks"
    _readme_split "$readme" "$README_DIR/blocks" || return 1
    _readme_session >"$README_DIR/session.sh" || return 1
    local status=0
    PATH="$(dirname "$glassbox"):$PATH" timeout -k 10 "$limit" \
        bash "$README_DIR/session.sh" "$README_DIR" "$top" </dev/null || status=$?
    _readme_transcript >"$README_DIR/transcript"
    if [[ -n ${LAB_TRANSCRIPT:-} ]]; then cp "$README_DIR/transcript" "$LAB_TRANSCRIPT"; fi
    if [[ $status -ne 0 ]]; then
        {
            echo "FAIL: a step of $readme failed (exit $status)"
            [[ $status -eq 124 ]] && echo "  the README's commands ran longer than ${limit}s"
            [[ -s $README_DIR/error ]] && sed 's/^/  /' "$README_DIR/error"
            echo "  the transcript's end (whole: LAB_TRANSCRIPT=FILE $0):"
            tail -n 40 "$README_DIR/transcript" | sed 's/^/  | /'
        } >&2
        return 1
    fi
    # A lab's clean up unsets what it exported: a GLASSBOX_ROOT left behind
    # would run the next lab in this lab's root, with other names.
    if [[ -f $README_DIR/final-root ]]; then
        echo "FAIL: $readme leaves GLASSBOX_ROOT=$(cat "$README_DIR/final-root") exported: its clean up must unset it" >&2
        return 1
    fi
    if [[ $(cat "$README_DIR/final-pwd") != "$top" ]]; then
        echo "FAIL: $readme leaves the shell in $(cat "$README_DIR/final-pwd"), not where it started ($top): its clean up must go back" >&2
        return 1
    fi
    local n
    n=$(wc -l <"$README_DIR/reached")
    echo "ran $readme: $n blocks of commands, as typed"
}

# Split the README into blocks: NNN.kind, NNN.line, NNN.body. A fence may be
# indented (inside a list item); its indentation is taken off every line.
_readme_split() {
    awk -v out="$2" -v file="$1" '
        function fail(msg) { printf "%s:%d: %s\n", file, NR, msg > "/dev/stderr"; bad = 1 }
        !inblock && /^[ \t]*```/ {
            match($0, /^[ \t]*/); indent = RLENGTH
            info = substr($0, indent + 4); gsub(/^[ \t]+|[ \t]+$/, "", info)
            if (info !~ /^(sh|sh fails|sh inside|sh skip|text)$/) {
                fail("block \"```" info "\": use ```sh (typed, must work), ```sh fails, ```sh inside, ```sh skip or ```text (see labs/lib/readme.sh)")
            }
            inblock = 1; n++; name = sprintf("%s/%03d", out, n)
            kind = info; sub(/^sh$/, "sh run", kind)
            print kind > (name ".kind"); close(name ".kind")
            print NR > (name ".line"); close(name ".line")
            printf "" > (name ".body")
            next
        }
        inblock && /^[ \t]*```[ \t]*$/ { inblock = 0; close(name ".body"); next }
        inblock {
            line = $0
            match(line, /^[ \t]*/)
            line = substr(line, (RLENGTH < indent ? RLENGTH : indent) + 1)
            print line >> (name ".body")
        }
        END {
            if (inblock) fail("a block is never closed")
            exit bad
        }
    ' "$1"
}

# The session script: a preamble, then each block in a group whose output
# goes to NNN.out and NNN.err.
_readme_session() {
    cat <<'PRE'
# Generated by labs/lib/readme.sh from a lab's README.md.
__lab_dir=$1
cd "$2" || exit 1
unset GLASSBOX_ROOT
set -o pipefail
__lab_known=" $(compgen -v | tr '\n' ' ') __lab_known "
# What the student defined (LAB, GLASSBOX_ROOT, ...), for verify's cleanup:
# appended after each block, so a variable the clean up unsets keeps its
# last value.
__lab_vars() {
    local __lab_v
    for __lab_v in $(compgen -v); do
        case $__lab_known in *" $__lab_v "*) continue ;; esac
        [[ $__lab_v == __lab* || $__lab_v == BASH* || $__lab_v == _ ]] && continue
        declare -p "$__lab_v" 2>/dev/null
    done >>"$__lab_dir/vars"
}
__lab_err() {
    [[ $- == *e* ]] || return 0
    printf 'the block at README.md:%s: exit %s: %s\n' "$(cat "$__lab_dir/line")" "$1" "$2" >"$__lab_dir/error"
}
__lab_begin() {
    echo "$1" >>"$__lab_dir/reached"
    cp "$__lab_dir/blocks/$1.line" "$__lab_dir/line"
}
__lab_exit() {
    local __lab_status=$?
    set +e
    __lab_vars
    local jobs
    jobs=$(jobs -p)
    [[ -n $jobs ]] && kill $jobs 2>/dev/null
    exit $__lab_status
}
trap __lab_exit EXIT
trap '__lab_err $? "$BASH_COMMAND"' ERR
PRE
    local f i kind next body last prev_kind=
    for f in "$README_DIR"/blocks/*.kind; do
        i=$(basename "$f" .kind)
        kind=$(cat "$f")
        case $kind in
            "sh run" | "sh fails") ;;
            "sh inside")
                [[ ${prev_kind:-} == run || ${prev_kind:-} == fails ]] || {
                    echo "$README_FILE:$(cat "$README_DIR/blocks/$i.line"): a \`\`\`sh inside block must follow a \`\`\`sh block" >&2
                    return 1
                }
                continue ;;
            *) prev_kind=; continue ;;
        esac
        prev_kind=${kind#sh }
        printf '\n__lab_begin %s\n{\n' "$i"
        if [[ $kind == "sh fails" ]]; then echo "set +e"; else echo "set -e"; fi
        body="$README_DIR/blocks/$i.body"
        next=$(printf '%03d' $((10#$i + 1)))
        if [[ -f $README_DIR/blocks/$next.kind && $(cat "$README_DIR/blocks/$next.kind") == "sh inside" ]]; then
            # the last line starts the program that reads the next block
            sed '$d' "$body"
            last=$(tail -n 1 "$body")
            if _readme_wants_tty "$last"; then
                printf "script -qefc %q /dev/null <<'__LAB_INSIDE__'\n" "$last"
            else
                printf "%s <<'__LAB_INSIDE__'\n" "$last"
            fi
            cat "$README_DIR/blocks/$next.body"
            echo "__LAB_INSIDE__"
        else
            cat "$body"
        fi
        printf '} >"$__lab_dir/%s.out" 2>"$__lab_dir/%s.err"\nset +e\n__lab_vars\n' "$i" "$i"
    done
    # where the README leaves the student's shell: the next lab starts there
    printf '\n__lab_vars\npwd >"$__lab_dir/final-pwd"\n[[ -v GLASSBOX_ROOT ]] && printf "%%s\\n" "$GLASSBOX_ROOT" >"$__lab_dir/final-root"\nexit 0\n'
}

# Whether LINE is a glassbox command that wants a terminal: a short option
# group with t in it (-t, -it, -ti) or --tty.
_readme_wants_tty() {
    [[ $1 =~ ^glassbox[[:space:]] ]] || return 1
    [[ " $1 " =~ [[:space:]](-[a-zA-Z]*t[a-zA-Z]*|--tty)[[:space:]] ]]
}

# What a student would have seen: each block's commands after a root
# prompt, then what they printed (stdout, then stderr).
_readme_transcript() {
    local i next
    [[ -f $README_DIR/reached ]] || return 0
    while read -r i; do
        echo "--- README.md line $(cat "$README_DIR/blocks/$i.line") ($(cat "$README_DIR/blocks/$i.kind"))"
        sed 's/^/# /' "$README_DIR/blocks/$i.body"
        next=$(printf '%03d' $((10#$i + 1)))
        if [[ -f $README_DIR/blocks/$next.kind && $(cat "$README_DIR/blocks/$next.kind") == "sh inside" ]]; then
            sed 's/^/(typed inside) /' "$README_DIR/blocks/$next.body"
        fi
        cat "$README_DIR/$i.out" "$README_DIR/$i.err" 2>/dev/null
    done <"$README_DIR/reached"
}

# The number of the block whose commands are exactly TEXT, or else of the
# first block whose commands contain TEXT.
_readme_block() {
    local f
    for f in "$README_DIR"/blocks/*.body; do
        if [[ $(<"$f") == "$1" ]]; then basename "$f" .body; return 0; fi
    done
    for f in "$README_DIR"/blocks/*.body; do
        if grep -qF -- "$1" "$f"; then basename "$f" .body; return 0; fi
    done
    echo "verify: no block of $README_FILE contains '$1'" >&2
    return 1
}

# readme_out TEXT / readme_err TEXT / readme_all TEXT: what the block with
# TEXT printed on stdout, on stderr, or both.
readme_out() { local i; i=$(_readme_block "$1") && cat "$README_DIR/$i.out"; }
readme_err() { local i; i=$(_readme_block "$1") && cat "$README_DIR/$i.err"; }
readme_all() { local i; i=$(_readme_block "$1") && cat "$README_DIR/$i.out" "$README_DIR/$i.err"; }

# readme_var NAME: the value the student's session gave NAME (empty if none).
readme_var() {
    [[ -n $README_DIR && -f $README_DIR/vars ]] || return 0
    bash -c '. "$1" 2>/dev/null; printf "%s" "${!2:-}"' _ "$README_DIR/vars" "$1"
}

# readme_expect TEXT out|err|all WANT: the block with TEXT printed a line
# containing WANT. readme_expect_re: WANT is an extended regular expression.
# readme_reject: it printed no such line.
readme_expect() { _readme_check -F "$@"; }
readme_expect_re() { _readme_check -E "$@"; }
readme_reject() { _readme_check -v "$@"; }
_readme_check() {
    local how=$1 text=$2 stream=$3 want=$4 got ok=yes
    got=$("readme_$stream" "$text") || exit 1
    README_CHECKS=$((README_CHECKS + 1))
    case $how in
        -v) if grep -qF -- "$want" <<<"$got"; then ok=no; fi ;;
        *) grep -q "$how" -- "$want" <<<"$got" || ok=no ;;
    esac
    if [[ $ok == yes ]]; then
        echo "ok   README: '$text' $( [[ $how == -v ]] && echo "does not print" || echo prints) '$want'"
        return 0
    fi
    {
        echo "FAIL README: after '$text', expected $stream $( [[ $how == -v ]] && echo "without" || echo "with") '$want'; it printed:"
        sed 's/^/  | /' <<<"$got"
    } >&2
    exit 1
}

# readme_equals TEXT out|err|all WANT: the block with TEXT printed exactly
# WANT (its lines, without the last newline).
readme_equals() {
    local text=$1 stream=$2 want=$3 got
    got=$("readme_$stream" "$text") || exit 1
    README_CHECKS=$((README_CHECKS + 1))
    if [[ $got == "$want" ]]; then
        echo "ok   README: '$text' prints exactly: $(tr '\n' '|' <<<"$want")"
        return 0
    fi
    {
        echo "FAIL README: after '$text', expected $stream to be exactly:"
        sed 's/^/  | /' <<<"$want"
        echo "  it printed:"
        sed 's/^/  | /' <<<"$got"
    } >&2
    exit 1
}

# readme_cleanup: remove the session's files (call it from the trap).
readme_cleanup() {
    [[ -n $README_DIR && -d $README_DIR ]] && rm -rf "$README_DIR"
    README_DIR=""
}
