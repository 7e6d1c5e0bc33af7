/**
 * `file://` links (Node only): a sender's local blob store writes each link payload into a
 * directory (`directoryUploader`, `natsbridge-js send --store dir:PATH`, the Rust `FsStore`),
 * and a receiver on the same machine reads it back from a directory it allows
 * (`ReceiveOptions.allowedDirs`, `--allow-dir`). A link outside every allowed directory is
 * URL_NOT_ALLOWED, decided from the path alone before the file system is touched, then again
 * after symbolic links are resolved; a file of another length than declared is
 * INTEGRITY_MISMATCH; one that cannot be read, DOWNLOAD_FAILED.
 */
import { mkdir, open, realpath, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ERROR_DOWNLOAD, ERROR_HOST_NOT_ALLOWED, ERROR_INTEGRITY, ERROR_UPLOAD } from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";
import { checkText } from "./options.js";
import type { Uploader } from "./plik.js";
import { fileName, newUuid } from "./wire.js";

/** Whether `path` lies strictly inside `dir` (both absolute, normalized). */
function inside(dir: string, path: string): boolean {
  const r = relative(dir, path);
  return r !== "" && r !== ".." && !r.startsWith(`..${sep}`) && !isAbsolute(r);
}

async function realDirs(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) {
    try {
      out.push(await realpath(d));
    } catch {
      // A directory that does not exist allows nothing.
    }
  }
  return out;
}

/** Reads the `file://` link `url`, which must lie inside one of `allowedDirs` and hold `size` bytes. */
export async function readFileLink(url: string, size: number, allowedDirs: readonly string[]): Promise<Uint8Array> {
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (e) {
    throw new NatsBridgeError(ERROR_HOST_NOT_ALLOWED, "not a local file URL", { cause: e });
  }
  const outside = () => new NatsBridgeError(ERROR_HOST_NOT_ALLOWED, `${path} is outside the allowed directories`);
  const dirs = allowedDirs.map((d) => resolve(d));
  const real = await realDirs(dirs);
  // Nothing touches the file for a path no allowed directory could contain, so a sender cannot
  // probe which files exist.
  if (path.split(sep).includes("..") || ![...dirs, ...real].some((d) => inside(d, path))) throw outside();
  let canonical: string;
  try {
    canonical = await realpath(path);
  } catch (e) {
    throw new NatsBridgeError(ERROR_DOWNLOAD, `reading a file link: ${path}`, { cause: e });
  }
  if (!real.some((d) => inside(d, canonical))) throw outside();
  let file;
  try {
    file = await open(canonical, "r");
  } catch (e) {
    throw new NatsBridgeError(ERROR_DOWNLOAD, `reading a file link: ${path}`, { cause: e });
  }
  try {
    const stat = await file.stat();
    if (!stat.isFile()) throw new NatsBridgeError(ERROR_DOWNLOAD, `reading a file link: ${path} is not a file`);
    if (stat.size !== size) throw new NatsBridgeError(ERROR_INTEGRITY, `file has ${stat.size} bytes, the payload declares ${size}`);
    const bytes = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await file.read(bytes, at, size - at, at);
      if (bytesRead === 0) throw new NatsBridgeError(ERROR_INTEGRITY, `file has ${at} bytes, the payload declares ${size}`);
      at += bytesRead;
    }
    return bytes;
  } catch (e) {
    if (e instanceof NatsBridgeError) throw e;
    throw new NatsBridgeError(ERROR_DOWNLOAD, `reading a file link: ${path}`, { cause: e });
  } finally {
    await file.close().catch(() => {});
  }
}

/**
 * A blob store writing each link payload into `dir` (created if missing) as
 * `<random id>-<name>` and linking it as a `file://` URL, as the Rust `FsStore`. Receivers on
 * the same machine must allow the directory (`allowedDirs`). Lifetimes and one-shot are not
 * enforced: the files stay until removed.
 */
export function directoryUploader(dir: string): Uploader {
  checkText(dir, "dir", "directoryUploader");
  let ready: Promise<string> | undefined;
  return async (name, bytes, context) => {
    try {
      ready ??= mkdir(dir, { recursive: true }).then(() => realpath(dir));
      const path = join(await ready, `${newUuid().replaceAll("-", "")}-${fileName(name)}`);
      await writeFile(path, bytes, { flag: "wx" });
      return pathToFileURL(path).href;
    } catch (e) {
      throw new NatsBridgeError(ERROR_UPLOAD, `writing into ${dir}`, { correlationId: context.correlationId, cause: e });
    }
  };
}
