#!/usr/bin/env bash
# Lints the Swift sources (the rules of .editorconfig for *.swift): every *.swift file under Sources/,
# tracked or untracked but not ignored, must have
#   - no line longer than 120 characters (characters, not bytes),
#   - no tab character,
#   - no trailing whitespace,
#   - a final newline.
# Prints one line per violation as `path:line: message`, then `lint: N passed, M failed` (N files clean,
# M files with violations), and exits 1 if there is any violation.
# Needs only bash, git, coreutils and awk (any awk: mawk's length() counts bytes, so the length of a line is
# computed in the C locale as its number of bytes minus its number of UTF-8 continuation bytes).
set -uo pipefail

MAX_LINE_LENGTH=120

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
git rev-parse --git-dir > /dev/null || exit 2

# The violations of one file, one line each as `path:line: message`.
lint_file() {
    local file=$1
    LC_ALL=C awk -v path="$file" -v max="$MAX_LINE_LENGTH" '
        {
            line = $0
            continuation = gsub(/[\200-\277]/, "", line)
            characters = length($0) - continuation
            if (characters > max) {
                printf "%s:%d: line is %d characters long (limit %d)\n", path, NR, characters, max
            }
            if (index($0, "\t") > 0) {
                printf "%s:%d: tab character\n", path, NR
            }
            if ($0 ~ /[ \t\r\f\v]$/) {
                printf "%s:%d: trailing whitespace\n", path, NR
            }
        }
    ' "$file"
    if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then
        printf '%s:%d: no newline at end of file\n' "$file" "$(( $(wc -l < "$file") + 1 ))"
    fi
}

passed=0
failed=0
while IFS= read -r -d '' file; do
    [ -f "$file" ] || continue  # tracked but deleted in the work tree
    violations=$(lint_file "$file")
    if [ -n "$violations" ]; then
        printf '%s\n' "$violations"
        failed=$(( failed + 1 ))
    else
        passed=$(( passed + 1 ))
    fi
done < <(
    {
        git ls-files -z -- 'Sources/*.swift'
        git ls-files -z --others --exclude-standard -- 'Sources/*.swift'
    } | sort -z -u
)

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
