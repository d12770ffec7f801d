import type { DirNode, SymlinkNode } from '../node.js';
import { OverlayLeaf } from './inode.js';

/** A symbolic link of the overlay. Changing its times copies it up (it is small). */
export class OverlaySymlink extends OverlayLeaf<SymlinkNode> implements SymlinkNode {
  readonly type = 'symlink';

  get target(): string {
    return this.source.target;
  }

  makeCopy(into: DirNode, name: string): SymlinkNode {
    const st = this.stat();
    const copy = into.symlink(name, this.lower!.target);
    try {
      copy.setTimes(st.atimeNs, st.mtimeNs);
    } catch (error) {
      into.unlink(name);
      throw error;
    }
    return copy;
  }
}
