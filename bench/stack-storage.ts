// Where the tracker benchmark's local stacks keep s3rver's files: in RAM (tmpfs) or on the disk.
//
// Why it matters: s3rver writes each raw object as two new files (the object and its metadata). On
// this machine's ext4 volume, creating a 110 KB file costs 0.16-1 ms of kernel CPU depending on the
// directory (ext4's inode allocator scans past recently deleted inodes, which every test run leaves
// behind: `perf record -e cpu-clock` shows find_inode_bit / recently_deleted), against ~0.1 ms on
// tmpfs. That is up to ~1 us per event that the S3 stand-in's disk costs on the same 2 cores as the
// client and the collector, that changes with the volume's history, and that no collector pays on AWS
// (S3 stores the object). So the stacks measured keep their data in RAM, and one stack on the disk
// (where `npm start` keeps its data) is measured beside them in the same run: both numbers are on record.
import { accessSync, constants, mkdirSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { LOCAL_DATA_DIR } from "../contracts/local-stack.js";

export type Storage = "ram" | "disk";

export interface StorageDir {
  dir: string;
  /** Filesystem type from /proc/mounts (tmpfs, ext4, ...), or "?" where that cannot be read. */
  fsType: string;
}

/** The filesystem type of the mount holding `path` (longest matching mount point in /proc/mounts). */
export function filesystemOf(path: string): string {
  try {
    const absolute = resolve(path);
    let best = { mountPoint: "", type: "?" };
    for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
      const [, mountPoint, type] = line.split(" ");
      if (mountPoint === undefined || type === undefined) continue;
      const inside =
        absolute === mountPoint || absolute.startsWith(mountPoint === "/" ? "/" : `${mountPoint}/`);
      if (inside && mountPoint.length > best.mountPoint.length) best = { mountPoint, type };
    }
    return best.type;
  } catch {
    return "?";
  }
}

function writableDirectory(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The RAM directory (Linux's /dev/shm when it is a writable tmpfs; TRACKER_BENCH_RAM_DIR overrides),
 * or undefined when there is none: then every stack runs on the disk and the labels say so.
 */
export function ramStorage(): StorageDir | undefined {
  const dir = process.env.TRACKER_BENCH_RAM_DIR ?? "/dev/shm";
  if (!writableDirectory(dir)) return undefined;
  const fsType = filesystemOf(dir);
  return fsType === "tmpfs" || process.env.TRACKER_BENCH_RAM_DIR !== undefined ? { dir, fsType } : undefined;
}

/** The disk directory: `.observatory/`, where `npm start` keeps its data (TRACKER_BENCH_DISK_DIR overrides). */
export function diskStorage(): StorageDir {
  const dir = resolve(process.env.TRACKER_BENCH_DISK_DIR ?? LOCAL_DATA_DIR);
  mkdirSync(dir, { recursive: true });
  return { dir, fsType: filesystemOf(dir) };
}
