/**
 * An error meant for the user: the CLI prints its message as one line
 * (`wkvm: <message>`) and exits with `exitCode`, never with a stack trace.
 */
export class WkvmError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'WkvmError';
  }
}

const FS_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'file exists',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  EBUSY: 'device or resource busy',
  EIO: 'input/output error',
  ERR_FS_FILE_TOO_LARGE: 'the file is too large to read at once',
};

/** A file-system error in words (for one-line messages), not an errno code. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code && FS_ERRORS[code]) return FS_ERRORS[code];
  const msg = (e as Error | undefined)?.message ?? String(e);
  // Node's messages look like "ENOENT: no such file or directory, open 'x'": keep the words
  return msg.replace(/^[A-Z_]+: /, '').replace(/, \w+ '.*'$/, '');
}
