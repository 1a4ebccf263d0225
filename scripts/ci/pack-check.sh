#!/usr/bin/env bash
# CI step: packs the main package and this platform's package as npm would
# publish them, installs both tarballs into an empty project, and checks that a
# user gets a working module there: require, ESM import (default and named), a
# strict TypeScript compile, and a tarball with only what users load. Needs the
# addon built (npm install, or scripts/ci/build.sh) first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# This platform as the per-platform packages name it (npm/<platform>).
platform=$(node -p "
  const { platform, arch } = process
  platform === 'linux' ? \`linux-\${arch}-\${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}\`
    : platform === 'win32' ? \`win32-\${arch}-msvc\` : \`\${platform}-\${arch}\`")
binary=shared-memory.$platform.node
[ -e "$repo/$binary" ] || { echo "no $binary: build the addon first (npm install)" >&2; exit 1; }

echo "-- pack"
npm pack --silent --ignore-scripts --pack-destination "$work" "$repo" >/dev/null
# The platform package as `napi prepublish` fills it: its package.json and the binary.
cp -r "$repo/npm/$platform" "$work/platform"
cp "$repo/$binary" "$work/platform/"
npm pack --silent --ignore-scripts --pack-destination "$work" "$work/platform" >/dev/null
main_tgz=$(ls "$work"/markusjx-shared_memory-2*.tgz)
platform_tgz=$(ls "$work"/markusjx-shared_memory-"$platform"-*.tgz)

echo "-- the main tarball holds only what users load"
expected='package/LICENSE
package/README.md
package/binding.d.ts
package/binding.js
package/index.d.ts
package/index.js
package/index.mjs
package/lib/bytes.js
package/lib/channel-format.js
package/lib/channel.js
package/lib/dispose.js
package/lib/errors.js
package/lib/memory.js
package/lib/pool.js
package/lib/shared-memory.js
package/package.json'
actual=$(tar -tzf "$main_tgz" | sort)
if [ "$actual" != "$expected" ]; then
  echo "unexpected files in $(basename "$main_tgz"):"
  diff <(echo "$expected") <(echo "$actual") || true
  exit 1
fi
tar -tzf "$platform_tgz" | sort | tr '\n' ' '
echo

echo "-- install both tarballs into an empty project"
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
# The other platforms' packages are optional dependencies that npm skips here (other OS or CPU,
# or, before the first publish, not on the registry yet).
npm install --no-audit --no-fund --loglevel=error "$platform_tgz" "$main_tgz"
[ ! -e node_modules/@markusjx/shared_memory/"$binary" ] || { echo "the main package must not carry the binary" >&2; exit 1; }

name="t-pack-$$"
echo "-- require"
node -e "
const shared_memory = require('@markusjx/shared_memory')
const memory = new shared_memory('$name', 64)
memory.data = 'from require'
if (memory.data !== 'from require' || shared_memory.default !== shared_memory || shared_memory.SharedMemory !== shared_memory) process.exit(1)
memory.close()
console.log('require: ok, loaded', require.resolve('@markusjx/shared_memory-$platform'))
"

echo "-- ESM import, default and named"
cat > esm.mjs <<JS
import shared_memory from '@markusjx/shared_memory'
import { SharedMemory, Channel } from '@markusjx/shared_memory'
if (shared_memory !== SharedMemory) throw new Error('default and named differ')
if (Channel !== SharedMemory.Channel) throw new Error('the named Channel export is not SharedMemory.Channel')
const memory = new SharedMemory('$name', { size: 64 })
memory.write('from import')
if (memory.read() !== 'from import') throw new Error('read back wrong')
memory.close()
console.log('import: ok')
JS
node esm.mjs

echo "-- strict TypeScript, CommonJS and ES module resolution"
cat > app.ts <<'TS'
import shared_memory from '@markusjx/shared_memory';
import { SharedMemory } from '@markusjx/shared_memory';
const memory: SharedMemory = new shared_memory(shared_memory.generateId(), 1024, false, true);
memory.data = 'typed';
const options: SharedMemory.Options = { size: 64, create: 'if-missing' };
const other = new SharedMemory('x', options);
const outcome: 'ok' | 'not-equal' | 'timed-out' = other.wait(0, 0, 0);
const view: Buffer = other.view;
console.log(outcome, view.length, memory.read());
TS
tsc="$repo/node_modules/typescript/bin/tsc"
node "$tsc" --strict --noEmit --types node --typeRoots "$repo/node_modules/@types" --module commonjs --esModuleInterop app.ts
node "$tsc" --strict --noEmit --types node --typeRoots "$repo/node_modules/@types" --module nodenext --moduleResolution nodenext app.ts
echo "typescript: ok"
