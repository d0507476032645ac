#!/bin/sh
# Every string marked for translation in po/POTFILES has a translation, not
# fuzzy, in every language of po/LINGUAS. Usage: check-po.sh SOURCE_ROOT
set -eu
root=$1
out=${SCF_TEST_OUT:-.}/po
mkdir -p "$out"
pot=$out/scflow-studio.pot

# The keywords of meson's "glib" gettext preset that our sources use.
xgettext --directory="$root" --files-from="$root/po/POTFILES" --output="$pot" \
    --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2
count=$(grep -c '^msgid "' "$pot")
echo "template: $((count - 1)) strings"

fail=0
for lang in $(grep -v '^#' "$root/po/LINGUAS"); do
    po=$root/po/$lang.po
    if ! msgcmp --no-fuzzy-matching "$po" "$pot"; then
        echo "FAIL: $lang.po lacks translations (above)"
        fail=1
    fi
    stats=$(LC_ALL=C msgfmt --check --statistics --output-file=/dev/null "$po" 2>&1) || {
        echo "FAIL: $lang.po: $stats"; fail=1; continue; }
    case $stats in
    *fuzzy* | *untranslated*) echo "FAIL: $lang.po: $stats"; fail=1 ;;
    *) echo "ok: $lang.po: $stats" ;;
    esac
done
exit $fail
