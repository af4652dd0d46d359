import { execFileSync } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { pack, type Pack } from 'tar-stream';
import type { Readable } from 'node:stream';

/**
 * A root filesystem shaped like the busybox image people know, made from the host's static busybox:
 * every applet a hard link in /bin, the usual top-level directories, and the accounts busybox's
 * image ships. Timestamps are fixed so that the same binary gives the same layer.
 */
export const BUSYBOX_CHANGES = ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["sh"]'];

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;
const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`;
const SHADOW = PASSWD.split('\n')
  .filter(Boolean)
  .map((l) => `${l.split(':')[0]}:*:10933:0:99999:7:::`)
  .join('\n') + '\n';

const DIRS: Array<[string, number]> = [
  ['bin', 0o755],
  ['dev', 0o755],
  ['etc', 0o755],
  ['home', 0o755],
  ['lib', 0o755],
  ['proc', 0o555],
  ['root', 0o700],
  ['sys', 0o555],
  ['tmp', 0o1777],
  ['usr', 0o755],
  ['usr/bin', 0o755],
  ['usr/sbin', 0o755],
  ['var', 0o755],
  ['var/spool', 0o755],
  ['var/spool/mail', 0o755],
  ['var/www', 0o755],
];

export function busyboxApplets(binary: string): string[] {
  return execFileSync(binary, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && !s.includes('/'));
}

export function busyboxRootfsTar(binary = '/bin/busybox'): Readable {
  const stat = statSync(binary);
  const mtime = new Date(Math.floor(stat.mtimeMs / 1000) * 1000);
  const tar = pack();
  void (async () => {
    try {
      for (const [name, mode] of DIRS) await entry(tar, { name: `${name}/`, type: 'directory', mode, mtime });
      await new Promise<void>((resolve, reject) => {
        const e = tar.entry({ name: 'bin/busybox', size: stat.size, mode: 0o755, mtime }, (err) => (err ? reject(err) : resolve()));
        createReadStream(binary).on('error', reject).pipe(e);
      });
      for (const applet of busyboxApplets(binary)) {
        await entry(tar, { name: `bin/${applet}`, type: 'link', linkname: 'bin/busybox', mode: 0o755, mtime });
      }
      await entry(tar, { name: 'etc/passwd', mode: 0o644, mtime }, PASSWD);
      await entry(tar, { name: 'etc/group', mode: 0o644, mtime }, GROUP);
      await entry(tar, { name: 'etc/shadow', mode: 0o640, mtime }, SHADOW);
      tar.finalize();
    } catch (err) {
      tar.destroy(err as Error);
    }
  })();
  return tar as unknown as Readable;
}

function entry(tar: Pack, header: Parameters<Pack['entry']>[0], body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.entry(header, body ?? '', (err) => (err ? reject(err) : resolve()));
  });
}
