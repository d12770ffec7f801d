import { firstEntryCookie, type DirNode, type Node } from '../vfs/index.js';
import type { ComponentContext, Result } from './context.js';
import type { ErrorCode } from './error-code.js';
import { typeOf, type DescriptorType } from './filesystem-values.js';
import { HostResource } from './resource.js';

/** `directory-entry-stream`: a directory's entries after `.` and `..`, by readdir cookie, so it survives changes to the directory. */
export class DirectoryEntryStream extends HostResource {
  #dir: DirNode;
  #cookie = firstEntryCookie;

  constructor(ctx: ComponentContext, dir: DirNode) {
    super(ctx);
    this.#dir = dir;
  }

  /** List the same directory in a rebased tree, from the same cookie. */
  rebase(counterpart: (node: Node) => Node | undefined): void {
    const next = counterpart(this.#dir);
    if (next?.type === 'directory') this.#dir = next;
  }

  readDirectoryEntry(): Result<{ type: DescriptorType; name: string } | undefined, ErrorCode> {
    return this.ctx.result(() => {
      let found: { type: DescriptorType; name: string } | undefined;
      this.ctx.namespace.readdir(this.#dir, this.#cookie, (entry) => {
        found = { type: typeOf[entry.type], name: entry.name };
        this.#cookie = entry.next;
        return false;
      });
      return found;
    });
  }
}

