/**
 * A tiny expect(1) for the Linux guest tests (test/linux.test.ts,
 * test/linux-io.test.ts): accumulate a serial console's output, wait for
 * patterns, type shell commands.
 */
import type { Readable, Writable } from 'node:stream';

/** The busybox shell's prompt at the end of the output. */
export const PROMPT = /# $/;

/** What `Console.exec` returns: the command's output (without \r) and its exit status. */
export interface ExecResult { out: string; rc: number }

export class Console {
  out = '';
  private waiters: (() => void)[] = [];
  private seq = 0;
  constructor(output: Readable, private readonly input: Writable, readonly name: string) {
    output.on('data', (d: Buffer) => {
      this.out += d.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Resolve with the match of `re` in the output from `from` on; reject after timeoutMs. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(this.out.slice(from));
        if (m) { clearTimeout(timer); resolve(m); return true; }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== poll);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${re}; output tail:\n${this.out.slice(-1500)}`));
      }, timeoutMs);
      const poll = (): void => { if (!check()) this.waiters.push(poll); };
      poll();
    });
  }

  send(line: string): void { this.input.write(line + '\n'); }

  /** Type a command at the shell prompt and return what it printed (without the echoed command line). */
  async run(cmd: string, timeoutMs = 60_000): Promise<string> {
    const from = this.out.length;
    this.send(cmd);
    await this.waitFor(/\n[^\n]*# $/, timeoutMs, from);
    const text = this.out.slice(from).replace(/\r/g, '');
    const lines = text.split('\n');
    return lines.slice(1, -1).join('\n'); // drop the echoed command and the new prompt
  }

  /**
   * Type `cmd` at the shell prompt (it must not end in `&`) and return its
   * output and exit status, then wait for the next prompt. The output is cut
   * between two markers that the shell prints but that its echo of the typed
   * line does not contain (`@@B''N` is echoed, `@@BN` printed), so a long
   * command line that the line editor wraps cannot leak into the output.
   */
  async exec(cmd: string, timeoutMs = 60_000): Promise<ExecResult> {
    const n = ++this.seq;
    const from = this.out.length;
    this.send(`echo @@B''${n}; ${cmd}; echo @@E''${n} $?`);
    const end = await this.waitFor(new RegExp(`@@E${n} (\\d+)\\r?\\n`), timeoutMs, from);
    const endAt = from + end.index + end[0].length;
    await this.waitFor(PROMPT, timeoutMs, endAt);
    const text = this.out.slice(from, from + end.index);
    const begin = new RegExp(`@@B${n}\\r?\\n`).exec(text);
    const out = (begin ? text.slice(begin.index + begin[0].length) : text).replace(/\r/g, '');
    return { out, rc: Number(end[1]) };
  }

  /** exec() that must succeed: the output, or an error that shows the command, its status and output. */
  async ok(cmd: string, timeoutMs = 60_000): Promise<string> {
    const r = await this.exec(cmd, timeoutMs);
    if (r.rc !== 0) throw new Error(`${this.name}: \`${cmd}\` failed with status ${r.rc}; its output:\n${r.out}`);
    return r.out;
  }
}
