#!/usr/bin/env bash
# Lints proto/ with buf (STANDARD rules, exceptions in proto/buf.yaml) and,
# once a release tag v* exists, checks it for breaking changes against the
# latest one.
#
#   bash tools/proto-lint/run.sh SOURCE_DIR WORK_DIR
#
# buf comes from npm (@bufbuild/buf, pinned in package-lock.json), installed
# into WORK_DIR (the build tree), not into the checkout.
set -euo pipefail
source_dir=$(realpath "$1")
work_dir=$2
mkdir -p "$work_dir"
work_dir=$(realpath "$work_dir")
here="$source_dir/tools/proto-lint"

if ! cmp -s "$here/package-lock.json" "$work_dir/package-lock.json" ||
   [ ! -x "$work_dir/node_modules/.bin/buf" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$work_dir/"
  (cd "$work_dir" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
fi
buf="$work_dir/node_modules/.bin/buf"
echo "buf $("$buf" --version)"

cd "$source_dir/proto"
"$buf" lint
echo "buf lint: proto/ is clean"

tag=""
if git -C "$source_dir" rev-parse --git-dir >/dev/null 2>&1; then
  tag=$(git -C "$source_dir" tag --list 'v*' --sort=-version:refname | head -n1)
fi
if [ -n "$tag" ]; then
  "$buf" breaking --against "$source_dir/.git#tag=$tag,subdir=proto"
  echo "buf breaking: no breaking change against $tag"
else
  echo "buf breaking: no release tag (v*) yet, nothing to compare against"
fi
