#!/bin/sh
# Install the system packages the tests need (PostgreSQL's server; Chromium and CJK fonts for the
# browser tests; Pango for WeasyPrint's PDFs and poppler-utils' pdftotext to read them) when missing; as root only.
set -eu
missing=""
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 \
    || missing="$missing fonts-noto-cjk"
ls /usr/lib/*/libpango-1.0.so.0 /usr/lib/*/libpangoft2-1.0.so.0 /usr/lib/*/libharfbuzz-subset.so.0 >/dev/null 2>&1 \
    || missing="$missing libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"
command -v pdftotext >/dev/null || missing="$missing poppler-utils"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "Installing system packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
    echo "The tests need system packages that are missing. Run, as root:"
    echo "    apt-get install -y$missing"
    exit 1
fi
