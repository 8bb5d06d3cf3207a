#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, then `npm install` of the tarball into an empty project (install
# script approved, as README "Install" says), then a transcription from an ES module, a CommonJS script and the
# CLI; then an install with --ignore-scripts, where the CLI must name `npx wav2vec2 setup`, and that command must
# build the addon. Fails on any npm warning (engines, install-script policy, unknown config) and on a wrong transcript.
#   npm run check:package            (5-10 minutes: each install builds the addon, and installs torch when needed)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
expected='I HAD THAT CURIOSITY BESIDE ME AT THIS MOMENT'
sample="$root/samples/curiosity-16k.wav"

fail() { echo "check-package: $*" >&2; exit 1; }
no_warnings() { # $1: what ran, $2: its stderr
  if grep -i 'warn' "$2" >&2; then fail "$1 printed the warnings above"; fi
}

cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "packed $tarball ($(du -h "$work/$tarball" | cut -f1))"

mkdir "$work/app" && cd "$work/app"
# The project allows the package's install script, as `npm install-scripts approve` would write it: by name for a
# registry install, by the tarball's absolute path here.
cat > package.json <<JSON
{ "name": "app", "version": "1.0.0", "private": true, "allowScripts": { "file:$work/$tarball": true } }
JSON
start=$(date +%s)
npm install --no-audit --no-fund "../$tarball" 2> npm-install.err || { cat npm-install.err >&2; fail 'npm install failed'; }
no_warnings 'npm install' npm-install.err
echo "installed in $(( $(date +%s) - start )) s, node_modules $(du -sh node_modules | cut -f1)"

cat > esm.mjs <<'JS'
import { createRecognizer } from 'wav2vec2-node';
const rec = await createRecognizer();
const { text } = await rec.transcribe(process.argv[2]);
await rec.close();
console.log(text);
JS
cat > cjs.cjs <<'JS'
const { createRecognizer } = require('wav2vec2-node');
(async () => {
  const rec = await createRecognizer();
  const { text } = await rec.transcribe(process.argv[2]);
  await rec.close();
  console.log(text);
})();
JS
for how in 'node esm.mjs' 'node cjs.cjs' 'npx wav2vec2 transcribe'; do
  text=$($how "$sample" 2> run.err) || { cat run.err >&2; fail "$how failed"; }
  grep -v 'NNPACK' run.err > run.warn || true  # LibTorch's note that this CPU has no NNPACK kernels
  no_warnings "$how" run.warn
  [ "$text" = "$expected" ] || fail "$how printed \"$text\", expected \"$expected\""
  echo "$how: $text"
done

# Where install scripts do not run: every native call says how to build the addon, and that command builds it.
mkdir "$work/blocked" && cd "$work/blocked"
echo '{ "name": "blocked", "version": "1.0.0", "private": true }' > package.json
npm install --no-audit --no-fund --ignore-scripts "../$tarball" 2> npm-install.err || { cat npm-install.err >&2; fail 'npm install --ignore-scripts failed'; }
no_warnings 'npm install --ignore-scripts' npm-install.err
if npx wav2vec2 transcribe "$sample" > /dev/null 2> run.err; then fail 'transcribe worked without the addon'; fi
grep -q 'npx wav2vec2 setup.*\[NATIVE_ADDON_MISSING\]' run.err || { cat run.err >&2; fail 'NATIVE_ADDON_MISSING does not name npx wav2vec2 setup'; }
echo "without install scripts: $(cut -c1-100 run.err)..."
npx wav2vec2 setup > setup.log 2>&1 || { tail -20 setup.log >&2; fail 'npx wav2vec2 setup failed'; }
text=$(npx wav2vec2 transcribe "$sample" 2> run.err) || { cat run.err >&2; fail 'transcribe failed after setup'; }
[ "$text" = "$expected" ] || fail "after setup, transcribe printed \"$text\""
echo "after npx wav2vec2 setup: $text"
echo 'check-package: ok'
