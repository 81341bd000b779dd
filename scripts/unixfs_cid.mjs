// Reference CIDs for tests/storage/test_unixfs.py: the npm `ipfs-unixfs-importer` configured like
// `ipfs add --cid-version 1` in kubo (raw leaves, 256 KiB fixed chunks, balanced DAG of up to 174 links).
// Usage: node scripts/unixfs_cid.mjs FILE...   (prints one CID per line)
import { createReadStream } from "node:fs";
import { importer } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { MemoryBlockstore } from "blockstore-core/memory";

for (const path of process.argv.slice(2)) {
  const blockstore = new MemoryBlockstore();
  const options = {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: 262144 }),
    layout: balanced({ maxChildrenPerNode: 174 }),
    wrapWithDirectory: false,
  };
  let root;
  for await (const entry of importer([{ content: createReadStream(path) }], blockstore, options)) root = entry;
  console.log(root.cid.toString());
}
