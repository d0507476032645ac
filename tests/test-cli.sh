#!/bin/sh
# The command line's contract: --help, --version, usage errors exit 2.
set -u
fail=0
check() { # description, expected status, command...
    desc=$1; want=$2; shift 2
    out=$("$@" 2>&1); got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $desc: exit $got, expected $want"; echo "$out"; fail=1
    else
        echo "ok: $desc"
    fi
}
check "--help" 0 "$SCFLOW" --help
check "--version" 0 "$SCFLOW" --version
check "no command" 2 "$SCFLOW"
check "unknown command" 2 "$SCFLOW" frobnicate
"$SCFLOW" --version | grep -Eq '^scflow [0-9]+\.[0-9]+\.[0-9]+$' || { echo "FAIL: version format"; fail=1; }
"$SCFLOW" --help | grep -q 'Usage: scflow COMMAND' || { echo "FAIL: help text"; fail=1; }

# scflow gallery in fresh folders: the PNG fixtures imported, then searched,
# shown, marked, deleted and restored, exported and purged.
expect() { # description, text the output must contain, command...
    desc=$1; want=$2; shift 2
    out=$("$@" 2>&1)
    case $out in
        *"$want"*) echo "ok: $desc" ;;
        *) echo "FAIL: $desc: no '$want' in:"; echo "$out"; fail=1 ;;
    esac
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/scflow-cli-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
png=$(dirname "$0")/fixtures/png
gal="$SCFLOW gallery --dir $tmp/g"
check "gallery without a command" 2 "$SCFLOW" gallery
check "gallery unknown command" 2 "$SCFLOW" gallery frobnicate
check "gallery import" 0 $gal import "$png/a1111.png" "$png/a1111_utf8.png"
expect "gallery list" "2 of 2 images" $gal list
expect "gallery list newest first" "$(printf '     2 ')" $gal list --limit 1
expect "gallery search with accents" "1 of 1 image" $gal list --search CAFE
expect "gallery search with quotes" "1 of 1 image" $gal list --search '"quoted"'
expect "gallery steps filter" "1 of 1 image" $gal list --steps 20
expect "gallery model filter" "1 of 1 image" $gal list --model "絵文字, model"
expect "gallery show" "seed:        1234567890" $gal show 1
check "gallery show unknown id" 1 $gal show 99
check "gallery show bad id" 2 $gal show one
check "gallery favourite" 0 $gal favourite 2
expect "gallery favourites" "1 of 1 image" $gal list --favourites
check "gallery delete" 0 $gal delete 1
expect "gallery list after delete" "1 of 1 image" $gal list
check "gallery delete twice" 1 $gal delete 1
check "gallery undo" 0 $gal undo 1
expect "gallery list after undo" "2 of 2 images" $gal list
check "gallery export needs --out" 2 $gal export 1
check "gallery export" 0 $gal export --out "$tmp/out" 1
[ -f "$tmp/out/1-1234567890.png" ] || { echo "FAIL: gallery export wrote no 1-1234567890.png"; fail=1; }
check "gallery delete for purge" 0 $gal delete 2
expect "gallery purge" "removed 1 deleted image for good" $gal purge
check "gallery import of a non-PNG" 1 $gal import "$0"
echo x > "$tmp/file"
expect "gallery under a file" "$tmp/file/g" "$SCFLOW" gallery list --dir "$tmp/file/g"
XDG_DATA_HOME="$tmp/xdg" "$SCFLOW" gallery list >/dev/null 2>&1
[ -f "$tmp/xdg/scflow-studio/gallery/gallery.sqlite" ] || { echo "FAIL: gallery default folder"; fail=1; }

# A diffusers pipeline folder (a latent model: 8x8 latents, 32x32 images)
# generates from the command line like our own models.
pipe=$(dirname "$0")/fixtures/models/pipeline-tiny
check "generate with a pipeline" 0 "$SCFLOW" generate --model "$pipe" --prompt "a cat" \
    --steps 2 --seed 3 --device cpu --quiet --out "$tmp/pipe.png"
grep -aq 'Size: 32x32' "$tmp/pipe.png" || { echo "FAIL: the pipeline's PNG is not 32x32"; fail=1; }

# --precision: parsed by the commands that run a model; the CPU does fp32 only
# and says so when asked by name for another precision.
check "generate --precision fp32 on the cpu" 0 "$SCFLOW" generate --model "$pipe" \
    --prompt "a cat" --steps 1 --seed 3 --device cpu --precision fp32 --quiet --out "$tmp/fp32.png"
check "generate --precision half" 2 "$SCFLOW" generate --prompt x --precision half
expect "generate --precision names the choices" "expected fp32, tf32, bf16 or fp16" \
    "$SCFLOW" generate --prompt x --precision half
check "generate --precision bf16 on the cpu" 1 "$SCFLOW" generate --model "$pipe" \
    --prompt "a cat" --device cpu --precision bf16 --out "$tmp/bf16.png"
expect "generate --precision bf16 on the cpu says why" "computes in fp32 only" \
    "$SCFLOW" generate --model "$pipe" --prompt "a cat" --device cpu --precision bf16 \
    --out "$tmp/bf16.png"
check "compare --precision half" 2 "$SCFLOW" compare --prompt x --out "$tmp/c.png" --precision half
check "bench unet --precision half" 2 "$SCFLOW" bench unet --precision half
check "bench train --precision bf16" 2 "$SCFLOW" bench train --precision bf16
# --steps 0 would otherwise read as "no limit" and train for hours
check "train --steps 0" 2 "$SCFLOW" train --out "$tmp/r0" --resume --steps 0
check "distill --steps -3" 2 "$SCFLOW" distill --out "$tmp/r0" --resume --steps -3
[ ! -e "$tmp/r0" ] || { echo "FAIL: a refused --steps made the run folder"; fail=1; }
exit $fail
