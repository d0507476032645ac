#!/bin/sh
# The AppStream metainfo shows a screenshot of every page of the window, and
# each one it names is a file in docs/screenshots (the README's, made with
# tools/screenshot-studio). Usage: check-metainfo-screenshots.sh SOURCE_ROOT
set -eu
root=$1
metainfo=$root/data/io.github.scflow.Studio.metainfo.xml.in
images=$(sed -n 's|.*<image>\(.*\)</image>.*|\1|p' "$metainfo")
fail=0
for page in generate compare gallery training; do
    echo "$images" | grep -q "/docs/screenshots/$page\.png$" ||
        { echo "FAIL: no screenshot of the $page page in $metainfo"; fail=1; }
done
for url in $images; do
    file=$root/docs/screenshots/${url##*/}
    if [ -f "$file" ]; then echo "ok: $url"; else echo "FAIL: $url: no $file"; fail=1; fi
done
exit $fail
