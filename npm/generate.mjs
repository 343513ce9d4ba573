#!/usr/bin/env node
// The npm packages' manifests, from one table: the launcher `minimax-mock`
// and one package per platform holding that platform's binary, chosen at
// install time by `os`, `cpu` and `libc` (the pattern of esbuild and Biome:
// the launcher lists them all as optionalDependencies, npm installs the one
// that fits, nothing is downloaded after install). The version is
// Cargo.toml's.
//
//   node npm/generate.mjs platforms OUTDIR [KEY...]
//       writes OUTDIR/KEY/package.json (and README.md, licenses) for each
//       platform KEY (all when none is named); release CI copies each
//       target's binary into OUTDIR/KEY/bin/ and publishes the folder.
//   node npm/generate.mjs launcher OUTDIR
//       copies npm/minimax-mock into OUTDIR with the version set.
//   node npm/generate.mjs check
//       fails if npm/minimax-mock/package.json disagrees with the table or
//       with Cargo.toml's version.
//   node npm/generate.mjs host
//       prints this machine's platform KEY (linux-x64-gnu, darwin-arm64, …).
//   node npm/generate.mjs list
//       prints every KEY with its Rust target, one a line.

import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

/** Every platform a binary is released for: npm's os/cpu/libc, Rust's target. */
export const PLATFORMS = [
  { key: "linux-x64-gnu", os: "linux", cpu: "x64", libc: "glibc", target: "x86_64-unknown-linux-gnu" },
  { key: "linux-arm64-gnu", os: "linux", cpu: "arm64", libc: "glibc", target: "aarch64-unknown-linux-gnu" },
  { key: "linux-x64-musl", os: "linux", cpu: "x64", libc: "musl", target: "x86_64-unknown-linux-musl" },
  { key: "linux-arm64-musl", os: "linux", cpu: "arm64", libc: "musl", target: "aarch64-unknown-linux-musl" },
  { key: "darwin-x64", os: "darwin", cpu: "x64", target: "x86_64-apple-darwin" },
  { key: "darwin-arm64", os: "darwin", cpu: "arm64", target: "aarch64-apple-darwin" },
  { key: "win32-x64", os: "win32", cpu: "x64", target: "x86_64-pc-windows-msvc" },
];

/** The scope of the platform packages. */
export const SCOPE = "@minimax-mock";
const REPOSITORY = "https://github.com/minimax-mock/minimax-mock";

export function packageName(key) {
  return `${SCOPE}/${key}`;
}

/** The [package] version of Cargo.toml: the one version of every package. */
export function cargoVersion() {
  const toml = readFileSync(join(root, "Cargo.toml"), "utf8");
  const section = toml.split(/^\[/m).find((s) => s.startsWith("package]"));
  const version = section && section.match(/^version\s*=\s*"([^"]+)"/m);
  if (!version) throw new Error("Cargo.toml has no [package] version");
  return version[1];
}

/** The binary's file name in a platform package. */
export function binaryName(platform) {
  return platform.os === "win32" ? "minimax-mock.exe" : "minimax-mock";
}

export function platformManifest(platform, version) {
  const manifest = {
    name: packageName(platform.key),
    version,
    description: `The minimax-mock binary for ${platform.key} (installed by the minimax-mock package)`,
    license: "MIT OR Apache-2.0",
    repository: { type: "git", url: `git+${REPOSITORY}.git` },
    homepage: REPOSITORY,
    os: [platform.os],
    cpu: [platform.cpu],
    files: ["bin/", "LICENSE-MIT", "LICENSE-APACHE"],
    // Yarn PnP: a binary is run from the disk, not from a zip.
    preferUnplugged: true,
  };
  if (platform.libc) manifest.libc = [platform.libc];
  return manifest;
}

/** This machine's platform key, as the launcher picks it at run time. */
export function hostKey() {
  const { platform, arch } = process;
  if (platform !== "linux") return `${platform}-${arch}`;
  // glibc reports its version in the process report; musl does not.
  const glibc = process.report.getReport().header.glibcVersionRuntime;
  return `linux-${arch}-${glibc ? "gnu" : "musl"}`;
}

function writeJson(file, value) {
  writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}

function licenses(dir) {
  for (const name of ["LICENSE-MIT", "LICENSE-APACHE"]) copyFileSync(join(root, name), join(dir, name));
}

function platforms(outdir, keys) {
  const version = cargoVersion();
  const chosen = keys.length ? keys.map(find) : PLATFORMS;
  for (const platform of chosen) {
    const dir = join(outdir, platform.key);
    mkdirSync(join(dir, "bin"), { recursive: true });
    writeJson(join(dir, "package.json"), platformManifest(platform, version));
    writeFileSync(
      join(dir, "README.md"),
      `# ${packageName(platform.key)}\n\nThe \`minimax-mock\` binary for ${platform.key} (Rust target \`${platform.target}\`).\n` +
        `Install [minimax-mock](https://www.npmjs.com/package/minimax-mock) instead: it depends on this package on that platform.\n`,
    );
    licenses(dir);
    console.log(join(dir, "bin", binaryName(platform)));
  }
}

function find(key) {
  const platform = PLATFORMS.find((p) => p.key === key);
  if (!platform) throw new Error(`no platform ${key}; known: ${PLATFORMS.map((p) => p.key).join(", ")}`);
  return platform;
}

function launcher(outdir) {
  const version = cargoVersion();
  cpSync(join(here, "minimax-mock"), outdir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(outdir, "package.json"), "utf8"));
  manifest.version = version;
  manifest.optionalDependencies = Object.fromEntries(PLATFORMS.map((p) => [packageName(p.key), version]));
  writeJson(join(outdir, "package.json"), manifest);
  licenses(outdir);
  console.log(outdir);
}

/** The checked-in launcher manifest agrees with the table and Cargo.toml. */
function check() {
  const version = cargoVersion();
  const manifest = JSON.parse(readFileSync(join(here, "minimax-mock", "package.json"), "utf8"));
  const problems = [];
  if (manifest.version !== version) {
    problems.push(`npm/minimax-mock/package.json version ${manifest.version}, Cargo.toml ${version}`);
  }
  const wanted = Object.fromEntries(PLATFORMS.map((p) => [packageName(p.key), version]));
  const have = manifest.optionalDependencies || {};
  for (const [name, v] of Object.entries(wanted)) {
    if (have[name] !== v) problems.push(`optionalDependencies["${name}"] is ${have[name]}, wanted ${v}`);
  }
  for (const name of Object.keys(have)) {
    if (!(name in wanted)) problems.push(`optionalDependencies["${name}"] is no platform of npm/generate.mjs`);
  }
  if (problems.length) {
    for (const p of problems) console.error(`npm/generate.mjs check: ${p}`);
    process.exit(1);
  }
  console.log(`npm: minimax-mock ${version} and its ${PLATFORMS.length} platform packages agree`);
}

const [command, ...rest] = process.argv.slice(2);
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  switch (command) {
    case "platforms":
      if (!rest[0]) throw new Error("usage: generate.mjs platforms OUTDIR [KEY...]");
      platforms(rest[0], rest.slice(1));
      break;
    case "launcher":
      if (!rest[0]) throw new Error("usage: generate.mjs launcher OUTDIR");
      launcher(rest[0]);
      break;
    case "check":
      check();
      break;
    case "host":
      console.log(hostKey());
      break;
    case "list":
      for (const p of PLATFORMS) console.log(`${p.key} ${p.target}`);
      break;
    default:
      console.error("usage: node npm/generate.mjs platforms OUTDIR [KEY...] | launcher OUTDIR | check | host | list");
      process.exit(2);
  }
}
