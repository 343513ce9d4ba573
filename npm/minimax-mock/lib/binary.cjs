"use strict";
// Where this machine's minimax-mock binary is: in the platform package npm
// installed beside the launcher (an optional dependency chosen by os, cpu
// and libc), or MINIMAX_MOCK_BINARY.

const fs = require("node:fs");
const path = require("node:path");

const BINARY_ENV = "MINIMAX_MOCK_BINARY";
const SCOPE = "@minimax-mock";

function isMusl() {
  // glibc reports its version in the process report; musl does not.
  try {
    return !process.report.getReport().header.glibcVersionRuntime;
  } catch {
    return false;
  }
}

/** The platform packages that could hold this machine's binary, best first. */
function platformKeys() {
  const { platform, arch } = process;
  if (platform !== "linux") return [`${platform}-${arch}`];
  // The musl build is static: it runs on glibc too, if that is what is there.
  return isMusl() ? [`linux-${arch}-musl`] : [`linux-${arch}-gnu`, `linux-${arch}-musl`];
}

/** The path of the minimax-mock binary; throws naming what is missing. */
function binaryPath() {
  const override = process.env[BINARY_ENV];
  if (override) {
    if (!fs.existsSync(override)) throw new Error(`${BINARY_ENV}=${override} does not exist`);
    return override;
  }
  const file = process.platform === "win32" ? "minimax-mock.exe" : "minimax-mock";
  const keys = platformKeys();
  for (const key of keys) {
    let manifest;
    try {
      manifest = require.resolve(`${SCOPE}/${key}/package.json`);
    } catch {
      continue;
    }
    const binary = path.join(path.dirname(manifest), "bin", file);
    if (fs.existsSync(binary)) return binary;
  }
  throw new Error(
    `no minimax-mock binary for this platform: none of ${keys.map((k) => `${SCOPE}/${k}`).join(", ")} is installed. ` +
      "It comes as an optional dependency of minimax-mock: reinstall without --omit=optional (or --no-optional), " +
      `or set ${BINARY_ENV} to a binary (cargo install minimax-mock).`,
  );
}

module.exports = { BINARY_ENV, binaryPath, platformKeys };
