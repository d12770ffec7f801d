import { describe, expect, it } from 'vitest';
import { t, tar } from '../support/tar-dsl.js';
import { runCase, sameFile, type Outcome } from './harness.js';

/**
 * containerd's TestBreakouts (pkg/archive/tar_test.go), case by case, with
 * the same names. containerd's "apply" precondition is our first layer.
 * Each case must apply inside the target (or fail with a typed error) and
 * leave the sentinel beside it untouched; the harness also checks that
 * the layer view and applyLayers agree.
 */
interface Breakout {
  readonly name: string;
  readonly layers: Array<Array<ReturnType<typeof t.file>>> | ((sentinel: string) => Array<Array<ReturnType<typeof t.file>>>);
  readonly check: (o: Outcome) => void;
}

const unbroken = (o: Outcome) => expect(o.tree?.['etc/unbroken']?.content).toBe('unbroken');
const same = (a: string, b: string) => (o: Outcome) => expect(sameFile(o.tree!, a, b), `${a} and ${b} are one file`).toBe(true);
const fails = (code: string) => (o: Outcome) => expect(o.code).toBe(code);
const base = [t.dir('etc', { mode: 0o770 }), t.file('/etc/passwd', 'inside')];

const breakouts: Breakout[] = [
  { name: 'SymlinkAbsolute', layers: [[t.dir('etc'), t.symlink('/etc', 'localetc'), t.file('/localetc/unbroken', 'unbroken')]], check: unbroken },
  { name: 'SymlinkUpAndOut', layers: [[t.dir('etc'), t.dir('dummy'), t.symlink('/dummy/../etc', 'localetc'), t.file('/localetc/unbroken', 'unbroken')]], check: unbroken },
  {
    name: 'SymlinkMultipleAbsolute',
    layers: [[t.dir('etc'), t.dir('dummy'), t.symlink('/etc', '/dummy/etc'), t.symlink('/dummy/etc', 'localetc'), t.file('/dummy/etc/unbroken', 'unbroken')]],
    check: unbroken,
  },
  {
    name: 'SymlinkMultipleRelative',
    layers: [[t.dir('etc'), t.dir('dummy'), t.symlink('/etc', '/dummy/etc'), t.symlink('./dummy/etc', 'localetc'), t.file('/dummy/etc/unbroken', 'unbroken')]],
    check: unbroken,
  },
  {
    name: 'SymlinkEmptyFile',
    layers: [[t.dir('etc'), t.file('etc/emptied', 'notempty'), t.symlink('/etc', 'localetc'), t.file('/localetc/emptied', '')]],
    check: (o) => expect(o.tree!['etc/emptied']!.size).toBe(0),
  },
  { name: 'HardlinkRelative', layers: [[...base, t.dir('breakouts'), t.symlink('../../etc', 'breakouts/d1'), t.link('/breakouts/d1/passwd', 'breakouts/mypasswd')]], check: same('breakouts/mypasswd', 'etc/passwd') },
  {
    name: 'HardlinkDownAndOut',
    layers: [[...base, t.dir('breakouts'), t.dir('downandout'), t.symlink('../downandout/../../etc', 'breakouts/d1'), t.link('/breakouts/d1/passwd', 'breakouts/mypasswd')]],
    check: same('breakouts/mypasswd', 'etc/passwd'),
  },
  { name: 'HardlinkAbsolute', layers: [[...base, t.symlink('/etc', 'localetc'), t.link('/localetc/passwd', 'localpasswd')]], check: same('localpasswd', 'etc/passwd') },
  { name: 'HardlinkRelativeLong', layers: [[...base, t.symlink('../../../../../../../etc', 'localetc'), t.link('/localetc/passwd', 'localpasswd')]], check: same('localpasswd', 'etc/passwd') },
  { name: 'HardlinkRelativeUpAndOut', layers: [[...base, t.symlink('upandout/../../../etc', 'localetc'), t.link('/localetc/passwd', 'localpasswd')]], check: same('localpasswd', 'etc/passwd') },
  { name: 'HardlinkDirectRelative', layers: [[...base, t.link('../../../../../etc/passwd', 'localpasswd')]], check: same('localpasswd', 'etc/passwd') },
  { name: 'HardlinkDirectAbsolute', layers: [[...base, t.link('/etc/passwd', 'localpasswd')]], check: same('localpasswd', 'etc/passwd') },
  { name: 'SymlinkParentDirectory', layers: [[...base, t.symlink('/etc/', '..'), t.link('/etc/passwd', 'localpasswd')]], check: same('localpasswd', 'etc/passwd') },
  { name: 'SymlinkEmptyFilename', layers: [[...base, t.symlink('/etc/', ''), t.link('/etc/passwd', 'localpasswd')]], check: same('localpasswd', 'etc/passwd') },
  {
    name: 'SymlinkParentRelative',
    layers: [[...base, t.symlink('/etc/', 'localetc/sub/..'), t.link('/etc/passwd', '/localetc/localpasswd')]],
    check: (o) => {
      expect(o.tree!['localetc']!.type).toBe('symlink');
      same('etc/localpasswd', 'etc/passwd')(o);
    },
  },
  { name: 'SymlinkSlashEnded', layers: [[...base, t.dir('localetc/'), t.link('/etc/passwd', '/localetc/localpasswd')]], check: same('localetc/localpasswd', 'etc/passwd') },
  {
    name: 'SymlinkOverrideDirectory',
    layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'inside'), t.dir('/localetc/')], [t.symlink('/etc', 'localetc'), t.link('/etc/passwd', '/localetc/localpasswd')]],
    check: same('etc/localpasswd', 'etc/passwd'),
  },
  {
    name: 'SymlinkOverrideDirectoryRelative',
    layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'inside'), t.dir('/localetc/')], [t.symlink('../../etc', 'localetc'), t.link('/etc/passwd', '/localetc/localpasswd')]],
    check: same('etc/localpasswd', 'etc/passwd'),
  },
  {
    name: 'DirectoryOverrideSymlink',
    layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'inside'), t.symlink('/etc', 'localetc')], [t.dir('/localetc/'), t.link('/etc/passwd', '/localetc/localpasswd')]],
    check: (o) => {
      expect(o.tree!['localetc']!.type).toBe('directory');
      same('localetc/localpasswd', 'etc/passwd')(o);
    },
  },
  {
    name: 'DirectoryOverrideSymlinkAndHardlink',
    layers: [
      [t.dir('/etc/'), t.file('/etc/passwd', 'inside'), t.symlink('etc', 'localetc'), t.link('/etc/passwd', '/localetc/localpasswd')],
      [t.dir('/localetc/'), t.file('/localetc/localpasswd', 'different')],
    ],
    check: (o) => {
      expect(sameFile(o.tree!, 'localetc/localpasswd', 'etc/passwd')).toBe(false);
      expect(o.tree!['localetc/localpasswd']!.content).toBe('different');
      expect(o.tree!['etc/passwd']!.content).toBe('inside');
    },
  },
  { name: 'WhiteoutRootParent', layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'inside')], [t.file('.wh...')]], check: fails('ERR_LAYER_BAD_WHITEOUT') },
  { name: 'WhiteoutParent', layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'inside')], [t.file('etc/.wh...')]], check: fails('ERR_LAYER_BAD_WHITEOUT') },
  { name: 'WhiteoutRoot', layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'inside')], [t.file('.wh..')]], check: fails('ERR_LAYER_BAD_WHITEOUT') },
  { name: 'WhiteoutCurrentDirectory', layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'inside')], [t.file('etc/.wh..')]], check: fails('ERR_LAYER_BAD_WHITEOUT') },
  {
    name: 'WhiteoutSymlink',
    layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'all users'), t.symlink('/etc', 'localetc')], [t.file('.wh.localetc')]],
    check: (o) => {
      expect(o.tree!['etc/passwd']!.content).toBe('all users');
      expect(o.tree!['localetc']).toBeUndefined();
    },
  },
  {
    name: 'WhiteoutSymlinkPath',
    layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'all users'), t.file('/etc/whitedout', 'ahhhh whiteout'), t.symlink('/etc', 'localetc')], [t.file('localetc/.wh.whitedout')]],
    check: (o) => {
      expect(o.tree!['etc/passwd']!.content).toBe('all users');
      expect(o.tree!['etc/whitedout']).toBeUndefined();
    },
  },
  {
    name: 'WhiteoutDirectoryName',
    layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'all users'), t.file('/etc/whitedout', 'ahhhh whiteout'), t.symlink('/etc', 'localetc')], [t.file('.wh.etc/somefile', 'non-empty')]],
    check: (o) => {
      expect(o.tree!['etc/passwd']!.content).toBe('all users');
      expect(o.tree!['.wh.etc/somefile']!.content).toBe('non-empty');
    },
  },
  {
    name: 'WhiteoutDeadSymlinkParent',
    layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'all users'), t.symlink('/dne', 'localetc')], [t.file('localetc/.wh.etc')]],
    check: (o) => expect(o.tree!['etc/passwd']!.content).toBe('all users'),
  },
  {
    name: 'WhiteoutRelativePath',
    layers: [[t.dir('/etc/'), t.file('/etc/passwd', 'all users'), t.symlink('/dne', 'localetc')], [t.file('dne/../.wh.etc')]],
    check: (o) => expect(o.tree!['etc/passwd']).toBeUndefined(),
  },
  {
    name: 'HardlinkSymlinkBeforeCreateTarget',
    layers: [[t.dir('etc', { mode: 0o770 }), t.symlink('/etc/passwd', 'localpasswd'), t.link('localpasswd', 'localpasswd-dup'), t.file('/etc/passwd', 'after')]],
    check: (o) => {
      expect(o.tree!['localpasswd-dup']).toMatchObject({ type: 'symlink', target: '/etc/passwd' });
      same('localpasswd-dup', 'localpasswd')(o);
    },
  },
  {
    name: 'HardlinkSymlinkRelative',
    layers: [[...base, t.symlink('../../../../../etc/passwd', 'passwdlink'), t.link('/passwdlink', 'localpasswd')]],
    check: (o) => {
      expect(o.tree!['localpasswd']).toMatchObject({ type: 'symlink', target: '../../../../../etc/passwd' });
      same('localpasswd', 'passwdlink')(o);
    },
  },
  {
    name: 'HardlinkSymlinkAbsolute',
    layers: [[...base, t.symlink('/etc/passwd', 'passwdlink'), t.link('/passwdlink', 'localpasswd')]],
    check: same('localpasswd', 'passwdlink'),
  },
  {
    // A symlink named by an absolute host path, pointing at a host file
    // outside; a hardlink to it must not chmod (or touch) the host file.
    name: 'HardlinkSymlinkChmod',
    layers: (sentinel) => [[t.symlink(`${sentinel}/secret`, `${sentinel}/also-exists-outside-root`), t.link(`${sentinel}/also-exists-outside-root`, 'sketchylink', { mode: 0o777 })]],
    check: (o) => {
      const inside = `${o.sentinel.slice(1)}/also-exists-outside-root`;
      expect(o.tree![inside]).toMatchObject({ type: 'symlink' });
      same('sketchylink', inside)(o);
    },
  },
];

describe('containerd TestBreakouts', () => {
  for (const b of breakouts) {
    it(b.name, async () => {
      const outcome = await runCase({
        layers: async (sentinel) => {
          const layers = typeof b.layers === 'function' ? b.layers(sentinel) : b.layers;
          return Promise.all(layers.map((items) => tar(...items)));
        },
      });
      b.check(outcome);
    });
  }
});
