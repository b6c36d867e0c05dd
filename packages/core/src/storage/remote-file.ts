/**
 * Where a stored blob lives, as Attic serialises it into `chunk.remote_file` (serde's externally
 * tagged JSON). Stored with every chunk so a chunk written before a backend change (another
 * directory, bucket or region) can still be read and deleted.
 */
export type RemoteFile =
  | { Local: { name: string } }
  | { S3: { region: string; bucket: string; key: string } }
  | { Http: { url: string } };

/** Attic's `remote_file_id`: unique per stored file (`chunk.remote_file_id` is UNIQUE). */
export function remoteFileId(ref: RemoteFile): string {
  if ("Local" in ref) return `local:${ref.Local.name}`;
  if ("S3" in ref) return `s3:${ref.S3.region}/${ref.S3.bucket}/${ref.S3.key}`;
  return `http:${ref.Http.url}`;
}

/** The backend-independent key inside a reference (the `"{uuid}.chunk"` name). */
export function remoteFileKey(ref: RemoteFile): string {
  if ("Local" in ref) return ref.Local.name;
  if ("S3" in ref) return ref.S3.key;
  return ref.Http.url;
}
