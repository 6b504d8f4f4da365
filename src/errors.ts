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
