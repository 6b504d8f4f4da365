/**
 * Opening a disk image for virtio-blk (-drive file=...,format=raw): checks
 * that give one clear line instead of a guest that cannot boot.
 */
import { open, stat, readFile, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Stats } from 'node:fs';
import { WkvmError } from '../../../errors.js';
import { BLOCK_CACHE_MODES, SECTOR_SIZE, VirtioBlock, type BlockCacheMode } from './blk.js';
import { RawFileStore, SnapshotStore, type BlockStore } from './store.js';

export interface BlockImageOptions {
  /** A raw image file or a block device. */
  file: string;
  /** The guest cannot write (VIRTIO_BLK_F_RO; writes get IOERR); the file is opened read-only. */
  readonly?: boolean;
  /** The guest's writes stay in memory and vanish with the VM; the file is opened read-only (readonly wins over snapshot). */
  snapshot?: boolean;
  /** Default 'writeback'. */
  cache?: BlockCacheMode;
  /** GET_ID string (ASCII, up to 20 bytes); default: the file's name, cut to 20 bytes. */
  serial?: string;
  /** The drive's name for a monitor (QMP's query-block `device`). */
  id?: string;
}

const QCOW2_MAGIC = [0x51, 0x46, 0x49, 0xfb]; // 'QFI\xfb'

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'EROFS': return 'read-only file system';
    case 'ELOOP': return 'too many symbolic links';
    case 'ENOTDIR': return 'a path component is not a directory';
    default: return e instanceof Error ? e.message : String(e);
  }
}

/** The serial a guest sees by default: the image's file name, printable ASCII, at most 20 bytes. */
export function serialFromFileName(file: string): string {
  return basename(file).replace(/[^\x20-\x7e]/g, '_').slice(0, 20);
}

/** Size in bytes of a block device, from sysfs (Linux). */
async function blockDeviceSize(st: Stats): Promise<number> {
  const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn);
  const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n));
  const sectors = (await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim();
  if (!/^[0-9]+$/.test(sectors)) throw new Error('unreadable size');
  return Number(sectors) * SECTOR_SIZE;
}

/**
 * Open a raw disk image and build its virtio-blk backend. Throws WkvmError
 * with a one-line message for a missing or unreadable file, something that
 * is not a regular file or block device, or a qcow2 image. A size that is
 * not a multiple of 512 is rounded down (the tail is not visible to the
 * guest; QEMU instead rounds up and reads zeroes past the end).
 */
export async function openBlockImage(options: BlockImageOptions): Promise<VirtioBlock> {
  const { file } = options;
  const cache = options.cache ?? 'writeback';
  if (!BLOCK_CACHE_MODES.includes(cache)) {
    throw new WkvmError(`invalid cache mode '${String(cache)}' for '${file}': one of ${BLOCK_CACHE_MODES.join(', ')}`);
  }
  const serial = options.serial ?? serialFromFileName(file);
  if (!/^[\x20-\x7e]{0,20}$/.test(serial)) {
    throw new WkvmError(`disk serial '${serial}' must be at most 20 printable ASCII characters`);
  }
  const readonly = options.readonly ?? false;
  const writable = !readonly && !options.snapshot;

  let st: Stats;
  try {
    st = await stat(file);
  } catch (e) {
    throw new WkvmError(`cannot open disk image '${file}': ${errnoText(e)}`);
  }
  if (!st.isFile() && !st.isBlockDevice()) {
    throw new WkvmError(`cannot use '${file}' as a disk image: not a regular file or block device`);
  }
  let fh: FileHandle;
  try {
    fh = await open(file, writable ? 'r+' : 'r');
  } catch (e) {
    const hint = writable ? ' (use readonly or snapshot for an image you cannot write)' : '';
    throw new WkvmError(`cannot open disk image '${file}': ${errnoText(e)}${hint}`);
  }
  try {
    let size: number;
    try {
      size = st.isBlockDevice() ? await blockDeviceSize(st) : st.size;
    } catch {
      throw new WkvmError(`cannot find the size of block device '${file}'`);
    }
    const magic = new Uint8Array(4);
    const { bytesRead } = await fh.read(magic, 0, 4, 0);
    if (bytesRead === 4 && QCOW2_MAGIC.every((b, i) => magic[i] === b)) {
      throw new WkvmError(`'${file}' is a qcow2 image, not raw: convert it with 'qemu-img convert -O raw ${file} disk.raw'`);
    }
    const raw = new RawFileStore(fh, size - (size % SECTOR_SIZE));
    const store: BlockStore = options.snapshot && !readonly ? new SnapshotStore(raw) : raw;
    return new VirtioBlock(store, {
      serial, readonly, cache, label: basename(file), info: { id: options.id ?? '', file, snapshot: options.snapshot === true && !readonly },
    });
  } catch (e) {
    await fh.close().catch(() => {});
    if (e instanceof WkvmError) throw e;
    throw new WkvmError(`cannot open disk image '${file}': ${errnoText(e)}`);
  }
}
