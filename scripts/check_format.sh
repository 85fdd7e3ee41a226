#!/usr/bin/env bash
# Fails (listing the files) when a C++ source differs from .clang-format. Fix with:
#   scripts/check_format.sh --fix
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mapfile -t files < <(find models datareader metrics tools tests cmake -name '*.cpp' -o -name '*.h' | sort)
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "not formatted (run scripts/check_format.sh --fix): ${bad[*]}"
  exit 1
fi
echo "format ok: ${#files[@]} files"
